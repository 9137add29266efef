import sys

from infra.manifests.cli import main

sys.exit(main())
