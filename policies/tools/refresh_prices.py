"""Regenerate the price snapshot (`policies/rules/prices/aws-prices.json`) from the AWS Price List bulk files.

    python -m policies.tools.refresh_prices --download            # fetch the current offer files, then write
    python -m policies.tools.refresh_prices --offers DIR           # use <DIR>/<offer code>.json already fetched
    python -m policies.tools.refresh_prices --offers DIR --check   # say what would change; write nothing

Offer files: https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer code>/current/<region>/index.json
for the offer codes AmazonSageMaker, AmazonEC2, AmazonEKS, awskms, AmazonCloudWatch (the AWS Price List
Bulk API; no credentials needed). The all-region file (`current/index.json`) works too: only the products of
`--region` are read. Only the instance types the stacks and policy configs name are kept, so the file stays
small and reviewable. Entries this script cannot extract are carried over from the current snapshot with their
recorded source, never dropped silently and never set to zero; docs/cost.md says which.

Products matched (attribute names as the offer files spell them; the SageMaker ones as vantage-sh's
ec2instances.info `sagemaker.py` and aws-samples' Pricing API clients read them): SageMaker product family
`ML Instance` with `platoinstancetype` Hosting / Training / Processing and the type in `instanceName` (or
`instanceType`), else a usage type `[REGION-]Host:<type>`, `Train:<type>`, `Processing:<type>`; KMS `KMS-Keys`;
CloudWatch `CW:AlarmMonitorUsage`; EKS `AmazonEKS-Hours:perCluster`; EC2 product family `Compute Instance` with
Linux, shared tenancy, no pre-installed software, capacity status Used. A product of another region
(`regionCode`), or of an Outpost, Local Zone or Wavelength Zone (`locationType` not `AWS Region`), is skipped.
Two products that give one entry different prices are a conflict: the entry is not taken (the match is then
ambiguous, and no price is guessed); the run names it and the snapshot's `missing` section records it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "policies" / "rules" / "prices" / "aws-prices.json"
OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
OFFERS = ("AmazonSageMaker", "AmazonEC2", "AmazonEKS", "awskms", "AmazonCloudWatch")

_INSTANCE = re.compile(r"\b((?:ml\.)?[a-z][0-9][a-z0-9-]*\.(?:nano|micro|small|medium|large|[0-9]*xlarge|metal))\b")
_SAGEMAKER_USAGE = re.compile(r"(?:^|-)(Host|Train|Processing):(ml\.[a-z0-9-]+\.[a-z0-9]+)$")
_SAGEMAKER_KIND = {"Host": "hosting", "Train": "training", "Processing": "processing",
                   "Hosting": "hosting", "Training": "training"}


class OfferError(ValueError):
    """An offer file that cannot be read as one (bad JSON, no products, nothing for the region)."""


@dataclass
class Extraction:
    """What the offer files gave: entries by snapshot key, and the keys whose products disagreed."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: dict[str, list[float]] = field(default_factory=dict)


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


def _sagemaker_key(product: dict[str, Any], wanted: set[str]) -> str | None:
    attributes = product.get("attributes", {})
    kind = _SAGEMAKER_KIND.get(attributes.get("platoinstancetype", ""))
    instance = attributes.get("instanceName") or str(attributes.get("instanceType", "")).split("-")[0]
    if product.get("productFamily") == "ML Instance" and kind and instance:
        return f"sagemaker:{kind}:{instance}" if instance in wanted else None
    match = _SAGEMAKER_USAGE.search(attributes.get("usagetype", ""))
    if match and match.group(2) in wanted:
        return f"sagemaker:{_SAGEMAKER_KIND[match.group(1)]}:{match.group(2)}"
    return None


def _entry_key(offer: str, product: dict[str, Any], wanted: set[str]) -> tuple[str, str] | None:
    """The snapshot key and unit a product prices, or None when the snapshot does not need it."""
    attributes = product.get("attributes", {})
    usage = attributes.get("usagetype", "")
    if offer == "AmazonSageMaker":
        key = _sagemaker_key(product, wanted)
        return (key, "hour") if key else None
    if offer == "AmazonEC2":
        if (product.get("productFamily") == "Compute Instance" and attributes.get("instanceType") in wanted
                and attributes.get("operatingSystem") == "Linux" and attributes.get("tenancy") == "Shared"
                and attributes.get("preInstalledSw") == "NA"
                and attributes.get("capacitystatus", "Used") == "Used"):
            return f"ec2:linux-on-demand:{attributes['instanceType']}", "hour"
        return None
    if offer == "AmazonEKS" and usage.endswith("AmazonEKS-Hours:perCluster"):
        return "eks:cluster-standard-support", "hour"
    if offer == "awskms" and usage.endswith("KMS-Keys"):
        return "kms:key", "month"
    if offer == "AmazonCloudWatch" and usage.endswith("CW:AlarmMonitorUsage"):
        return "cloudwatch:alarm-metric-standard", "month"
    return None


def extract(offers: dict[str, dict[str, Any]], wanted: set[str], region: str = "us-east-1") -> Extraction:
    """Snapshot entries from parsed offer files for one region, keyed as the cost model looks them up."""
    found: dict[str, dict[str, set[float]]] = {}
    units: dict[str, tuple[str, str]] = {}
    for offer, document in offers.items():
        terms = document.get("terms", {})
        for sku, product in document.get("products", {}).items():
            attributes = product.get("attributes", {})
            if attributes.get("regionCode", region) != region \
                    or attributes.get("locationType", "AWS Region") != "AWS Region":
                continue  # another region, or an Outpost / Local Zone / Wavelength price of this one
            hit = _entry_key(offer, product, wanted)
            try:
                usd = _paid_price(terms, sku) if hit else None
            except (TypeError, ValueError):
                raise OfferError(f"{offer}: SKU {sku}: an on-demand price is not a number") from None
            if hit and usd is not None:
                found.setdefault(hit[0], {}).setdefault(offer, set()).add(usd)
                units[hit[0]] = (hit[1], offer)
    result = Extraction()
    for key, by_offer in sorted(found.items()):
        values = sorted(set().union(*by_offer.values()))
        if len(values) > 1:
            result.conflicts[key] = values
            continue
        per, offer = units[key]
        result.entries[key] = {"usd": values[0], "per": per, "source": f"price-list:{offer}"}
    return result


def check_offer(name: str, document: Any, region: str) -> None:
    """Refuse what is not an offer file, or one with no product of the region (a file of another region)."""
    if not isinstance(document, dict) or not isinstance(document.get("products"), dict) \
            or not isinstance(document.get("terms"), dict):
        raise OfferError(f"{name}: not an AWS Price List offer file (needs 'products' and 'terms' objects)")
    codes = {p.get("attributes", {}).get("regionCode") for p in document["products"].values() if isinstance(p, dict)}
    codes.discard(None)
    if codes and region not in codes:
        raise OfferError(f"{name}: no product for region {region} (the file has {', '.join(sorted(codes)[:3])}...)")


def build_snapshot(current: dict[str, Any], offers: dict[str, dict[str, Any]], region: str,
                   wanted: set[str], today: str) -> tuple[dict[str, Any], Extraction]:
    """The new snapshot: extracted entries over the current ones (which are kept, with their sources)."""
    extraction = extract(offers, wanted, region)
    sources = dict(current.get("sources", {}))
    for offer, document in offers.items():
        sources[f"price-list:{offer}"] = {
            "kind": "aws",
            "url": OFFER_URL.format(offer=offer, region=region),
            "read": today,
            "region": region,
            "publicationDate": document.get("publicationDate"),
        }
    prices = dict(current.get("prices", {}))
    prices[region] = {**prices.get(region, {}), **extraction.entries}
    regions = sorted({*current.get("regions", []), region})
    missing = dict(current.get("missing", {}))
    for key, values in extraction.conflicts.items():
        missing[key] = f"offer files read {today} give {len(values)} prices {values}: not taken (ambiguous match)"
    for key in extraction.entries:
        missing.pop(key, None)
    snapshot = {**current, "snapshotDate": today, "regions": regions, "sources": sources, "prices": prices,
                "missing": missing,
                "generatedBy": "python -m policies.tools.refresh_prices (AWS Price List bulk files)"}
    return snapshot, extraction


def unpriced_types(snapshot: dict[str, Any], region: str, wanted: set[str]) -> list[str]:
    """The named instance types the snapshot still cannot price (`ml.*` at the hosting price, EC2 Linux)."""
    prices = snapshot.get("prices", {}).get(region, {})
    return sorted(t for t in wanted
                  if (f"sagemaker:hosting:{t}" if t.startswith("ml.") else f"ec2:linux-on-demand:{t}") not in prices)


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


def _load_offers(folder: Path, region: str) -> dict[str, dict[str, Any]]:
    offers: dict[str, dict[str, Any]] = {}
    for offer in OFFERS:
        path = folder / f"{offer}.json"
        if not path.is_file():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise OfferError(f"{path}: not JSON ({exc})") from None
        check_offer(str(path), document, region)
        offers[offer] = document
    if not offers:
        raise OfferError(f"--offers {folder}: none of {', '.join(f'{o}.json' for o in OFFERS)} found")
    return offers


def _report(extraction: Extraction, before: dict[str, Any], after: dict[str, Any], region: str,
            wanted: set[str], fmt: str) -> str:
    old = before.get("prices", {}).get(region, {})
    changed = {k: (old.get(k, {}).get("usd"), v["usd"]) for k, v in extraction.entries.items()
               if old.get(k, {}).get("usd") != v["usd"]}
    still = unpriced_types(after, region, wanted)
    if fmt == "json":
        return json.dumps({"region": region, "extracted": sorted(extraction.entries), "changed": changed,
                           "conflicts": extraction.conflicts, "unpricedTypes": still}, indent=2)
    lines = [f"{len(extraction.entries)} price(s) read from the offer files for {region}; {len(changed)} changed"]
    lines += [f"  {k}: {a} -> {b}" for k, (a, b) in sorted(changed.items())]
    lines += [f"  conflict, not taken: {k} {v}" for k, v in sorted(extraction.conflicts.items())]
    lines.append(f"named instance types still unpriced: {', '.join(still) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.tools.refresh_prices", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--offers", type=Path, help="folder holding <offer code>.json bulk files")
    source.add_argument("--download", action="store_true", help="download the current offer files")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT)
    parser.add_argument("--check", action="store_true", help="report what would change; write nothing")
    parser.add_argument("--format", choices=("human", "json"), default="human")
    args = parser.parse_args(argv)
    try:
        folder = args.offers or Path(tempfile.mkdtemp(prefix="aws-offers-"))
        if args.download:
            for offer in OFFERS:
                _download(offer, args.region, folder)
        offers = _load_offers(folder, args.region)
        current = json.loads(args.snapshot.read_text(encoding="utf-8"))
        wanted = named_instance_types()
        today = datetime.now(UTC).date().isoformat()
        snapshot, extraction = build_snapshot(current, offers, args.region, wanted, today)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if not args.check:
        _write_atomically(args.snapshot, json.dumps(snapshot, indent=2) + "\n")
    print(_report(extraction, current, snapshot, args.region, wanted, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
