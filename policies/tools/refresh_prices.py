"""Regenerate the price snapshot (`policies/rules/prices/aws-prices.json`) from the AWS Price List bulk files.

    python -m policies.tools.refresh_prices --download            # fetch the current offer files, then write
    python -m policies.tools.refresh_prices --offers DIR           # use <DIR>/<offer code>.json already fetched

Offer files: https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer code>/current/<region>/index.json
for the offer codes AmazonSageMaker, AmazonEC2, AmazonEKS, awskms, AmazonCloudWatch (the AWS Price List
Bulk API; no credentials needed). Only the instance types the stacks and policy configs name are kept, so the
file stays small and reviewable. Entries this script cannot extract are carried over from the current snapshot
with their recorded source, never dropped silently and never set to zero; docs/cost.md says which.

Usage types matched (as the bulk files and Cost Explorer spell them, with or without a region prefix such as
`USE1-`): SageMaker `Host:<type>`, `Train:<type>`, `Processing:<type>`; KMS `KMS-Keys`; CloudWatch
`CW:AlarmMonitorUsage`; EKS `AmazonEKS-Hours:perCluster`; EC2 product family `Compute Instance` with Linux,
shared tenancy, no pre-installed software, capacity status Used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "policies" / "rules" / "prices" / "aws-prices.json"
OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
OFFERS = ("AmazonSageMaker", "AmazonEC2", "AmazonEKS", "awskms", "AmazonCloudWatch")

_INSTANCE = re.compile(r"\b((?:ml\.)?[a-z][0-9][a-z0-9-]*\.(?:nano|micro|small|medium|large|[0-9]*xlarge|metal))\b")
_SAGEMAKER_USAGE = re.compile(r"(?:^|-)(Host|Train|Processing):(ml\.[a-z0-9-]+\.[a-z0-9]+)$")
_SAGEMAKER_KIND = {"Host": "hosting", "Train": "training", "Processing": "processing"}


def named_instance_types(root: Path = ROOT) -> set[str]:
    """Every instance type a stack file, a policy config or a config default names (`ml.*` and EC2 types)."""
    found: set[str] = set()
    files = [*(root / "stacks").glob("Pulumi.*.yaml"), *(root / "policies" / "config").glob("*.json"),
             *(root / "infra" / "config").glob("*.py")]
    for path in sorted(files):
        found |= set(_INSTANCE.findall(path.read_text(encoding="utf-8")))
    return found


def _paid_price(terms: dict[str, Any], sku: str) -> float | None:
    """The first non-zero on-demand price of a SKU (skipping a free tier), or None."""
    for offer_term in (terms.get("OnDemand", {}).get(sku) or {}).values():
        dimensions = sorted(offer_term.get("priceDimensions", {}).values(),
                            key=lambda d: float(d.get("beginRange", "0") or 0))
        for dimension in dimensions:
            usd = float(dimension.get("pricePerUnit", {}).get("USD", "0") or 0)
            if usd > 0:
                return usd
    return None


def extract(offers: dict[str, dict[str, Any]], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """Snapshot entries (without `source`) from parsed offer files, keyed as the cost model looks them up."""
    entries: dict[str, dict[str, Any]] = {}

    def put(key: str, usd: float | None, per: str, offer: str) -> None:
        if usd is not None:
            entries[key] = {"usd": usd, "per": per, "source": f"price-list:{offer}"}

    for offer, document in offers.items():
        terms = document.get("terms", {})
        for sku, product in document.get("products", {}).items():
            attributes = product.get("attributes", {})
            usage = attributes.get("usagetype", "")
            if offer == "AmazonSageMaker":
                match = _SAGEMAKER_USAGE.search(usage)
                if match and match.group(2) in wanted:
                    kind = _SAGEMAKER_KIND[match.group(1)]
                    put(f"sagemaker:{kind}:{match.group(2)}", _paid_price(terms, sku), "hour", offer)
            elif offer == "AmazonEC2":
                if (product.get("productFamily") == "Compute Instance" and attributes.get("instanceType") in wanted
                        and attributes.get("operatingSystem") == "Linux" and attributes.get("tenancy") == "Shared"
                        and attributes.get("preInstalledSw") == "NA"
                        and attributes.get("capacitystatus", "Used") == "Used"):
                    put(f"ec2:linux-on-demand:{attributes['instanceType']}", _paid_price(terms, sku), "hour", offer)
            elif offer == "AmazonEKS" and usage.endswith("AmazonEKS-Hours:perCluster"):
                put("eks:cluster-standard-support", _paid_price(terms, sku), "hour", offer)
            elif offer == "awskms" and usage.endswith("KMS-Keys"):
                put("kms:key", _paid_price(terms, sku), "month", offer)
            elif offer == "AmazonCloudWatch" and usage.endswith("CW:AlarmMonitorUsage"):
                put("cloudwatch:alarm-metric-standard", _paid_price(terms, sku), "month", offer)
    return entries


def build_snapshot(current: dict[str, Any], offers: dict[str, dict[str, Any]], region: str,
                   wanted: set[str], today: str) -> dict[str, Any]:
    """The new snapshot: extracted entries over the current ones (which are kept, with their sources)."""
    extracted = extract(offers, wanted)
    sources = dict(current.get("sources", {}))
    for offer, document in offers.items():
        sources[f"price-list:{offer}"] = {
            "kind": "aws",
            "url": OFFER_URL.format(offer=offer, region=region),
            "read": today,
            "publicationDate": document.get("publicationDate"),
        }
    prices = dict(current.get("prices", {}))
    prices[region] = {**prices.get(region, {}), **extracted}
    regions = sorted({*current.get("regions", []), region})
    return {**current, "snapshotDate": today, "regions": regions, "sources": sources, "prices": prices,
            "generatedBy": "python -m policies.tools.refresh_prices (AWS Price List bulk files)"}


def _download(offer: str, region: str, folder: Path) -> Path:
    target = folder / f"{offer}.json"
    with urllib.request.urlopen(OFFER_URL.format(offer=offer, region=region), timeout=600) as response:  # noqa: S310
        target.write_bytes(response.read())
    return target


def _write_atomically(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".aws-prices.", suffix=".json")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.tools.refresh_prices", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--offers", type=Path, help="folder holding <offer code>.json bulk files")
    source.add_argument("--download", action="store_true", help="download the current offer files")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    try:
        folder = args.offers or Path(tempfile.mkdtemp(prefix="aws-offers-"))
        if args.download:
            for offer in OFFERS:
                _download(offer, args.region, folder)
        offers = {o: json.loads((folder / f"{o}.json").read_text(encoding="utf-8"))
                  for o in OFFERS if (folder / f"{o}.json").is_file()}
        if not offers:
            sys.stderr.write(f"error: --offers {folder}: none of {', '.join(f'{o}.json' for o in OFFERS)} found\n")
            return 2
        current = json.loads(args.snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    today = datetime.now(UTC).date().isoformat()
    snapshot = build_snapshot(current, offers, args.region, named_instance_types(), today)
    _write_atomically(args.snapshot, json.dumps(snapshot, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
