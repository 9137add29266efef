"""Regenerate `policies/rules/taggable_types.py`: the pulumi-aws resource types whose inputs accept `tags`.

The pack cannot import pulumi_aws (it runs in its own small virtualenv, and importing the SDK is slow), so
the list is generated from the installed SDK's source and committed. A test regenerates it and fails when
the committed list drifts from the installed pulumi-aws version.

    python -m policies.tools.gen_taggable            # rewrite the file
    python -m policies.tools.gen_taggable --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from importlib import metadata
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "rules" / "taggable_types.py"

_TOKEN = re.compile(r"super\((\w+), __self__\).__init__\(\s*'(aws:[^']+)'")


def _args_accept_tags(source: str, class_name: str) -> bool:
    match = re.search(rf"^class {re.escape(class_name)}Args:\n(.*?)(?=^\S)", source, re.DOTALL | re.MULTILINE)
    return bool(match and re.search(r"^    def tags\(self\)", match.group(1), re.MULTILINE))


def taggable_types(sdk_dir: Path) -> list[str]:
    types: set[str] = set()
    for path in sorted(sdk_dir.rglob("*.py")):
        if path.name.startswith(("_", "get_")) or path.name in ("outputs.py", "provider.py"):
            continue
        source = path.read_text(encoding="utf-8")
        for class_name, token in _TOKEN.findall(source):
            if _args_accept_tags(source, class_name):
                types.add(token)
    return sorted(types)


def render(sdk_dir: Path, version: str) -> str:
    lines = [
        f'"""AWS resource types whose inputs accept `tags` (pulumi-aws {version}; generated, do not edit).',
        "",
        "Regenerate with `python -m policies.tools.gen_taggable`.",
        '"""',
        "",
        "TAGGABLE_TYPES = frozenset(",
        "    {",
        *(f'        "{t}",' for t in taggable_types(sdk_dir)),
        "    }",
        ")",
        "",
    ]
    return "\n".join(lines)


def sdk_location() -> tuple[Path, str]:
    spec = importlib.util.find_spec("pulumi_aws")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pulumi_aws is not installed in this environment")
    return Path(next(iter(spec.submodule_search_locations))), metadata.version("pulumi_aws")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report whether the file is up to date")
    args = parser.parse_args(argv)
    text = render(*sdk_location())
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale; run python -m policies.tools.gen_taggable", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
