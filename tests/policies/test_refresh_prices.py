"""The snapshot refresh: AWS Price List bulk files (in their published shape) in, snapshot entries out.

The offer files here are hand-made in the bulk format (products / attributes / terms.OnDemand /
priceDimensions / pricePerUnit.USD, as in lyft/awspricing's tests/data/ec2_offer.py), with made-up prices:
what is tested is which product each entry comes from, not the market.
"""

from __future__ import annotations

import json
from pathlib import Path

from policies.rules.pricing import load_snapshot
from policies.tools.refresh_prices import build_snapshot, extract, main


def product(sku: str, family: str, **attributes: str) -> dict:
    return {"sku": sku, "productFamily": family, "attributes": attributes}


def on_demand(sku: str, *tiers: tuple[str, str]) -> dict:
    dimensions = {f"{sku}.T.{i}": {"beginRange": begin, "endRange": "Inf", "unit": "Hrs", "pricePerUnit": {"USD": usd}}
                  for i, (begin, usd) in enumerate(tiers)}
    return {sku: {f"{sku}.T": {"offerTermCode": "T", "sku": sku, "priceDimensions": dimensions}}}


def offer(products: list[dict], terms: dict, publication: str = "2026-12-01T00:00:00Z") -> dict:
    return {"publicationDate": publication, "products": {p["sku"]: p for p in products}, "terms": {"OnDemand": terms}}


SAGEMAKER = offer(
    [product("H1", "ML Instance", usagetype="USE1-Host:ml.c5.xlarge"),
     product("T1", "ML Instance", usagetype="USE1-Train:ml.m5.xlarge"),
     product("P1", "ML Instance", usagetype="Processing:ml.m5.large"),
     product("S1", "ML Instance", usagetype="USE1-Train-Spot:ml.m5.xlarge"),
     product("N1", "ML Instance", usagetype="USE1-Host:ml.p5.48xlarge")],
    {**on_demand("H1", ("0", "0.5")), **on_demand("T1", ("0", "0.6")), **on_demand("P1", ("0", "0.7")),
     **on_demand("S1", ("0", "0.01")), **on_demand("N1", ("0", "99"))},
)
EC2 = offer(
    [product("E1", "Compute Instance", instanceType="m6i.large", operatingSystem="Linux", tenancy="Shared",
             preInstalledSw="NA", capacitystatus="Used", usagetype="BoxUsage:m6i.large"),
     product("E2", "Compute Instance", instanceType="m6i.large", operatingSystem="Windows", tenancy="Shared",
             preInstalledSw="NA", capacitystatus="Used", usagetype="BoxUsage:m6i.large"),
     product("E3", "Compute Instance", instanceType="m6i.large", operatingSystem="Linux", tenancy="Dedicated",
             preInstalledSw="NA", capacitystatus="Used", usagetype="DedicatedUsage:m6i.large")],
    {**on_demand("E1", ("0", "0.2")), **on_demand("E2", ("0", "0.9")), **on_demand("E3", ("0", "0.8"))},
)
KMS = offer([product("K1", "Encryption Key", usagetype="us-east-1-KMS-Keys")], on_demand("K1", ("0", "3")))
CLOUDWATCH = offer([product("C1", "Alarm", usagetype="CW:AlarmMonitorUsage")],
                   on_demand("C1", ("0", "0"), ("10", "0.4")))  # a free tier first: the paid price is taken
EKS = offer([product("X1", "Compute", usagetype="USE1-AmazonEKS-Hours:perCluster")], on_demand("X1", ("0", "0.2")))
OFFERS = {"AmazonSageMaker": SAGEMAKER, "AmazonEC2": EC2, "awskms": KMS, "AmazonCloudWatch": CLOUDWATCH,
          "AmazonEKS": EKS}
WANTED = {"ml.c5.xlarge", "ml.m5.xlarge", "ml.m5.large", "m6i.large"}


def test_extract_picks_the_on_demand_product_of_each_kind() -> None:
    got = {k: v["usd"] for k, v in extract(OFFERS, WANTED).items()}
    assert got == {
        "sagemaker:hosting:ml.c5.xlarge": 0.5,
        "sagemaker:training:ml.m5.xlarge": 0.6,  # not the spot product
        "sagemaker:processing:ml.m5.large": 0.7,
        "ec2:linux-on-demand:m6i.large": 0.2,  # not Windows, not dedicated
        "kms:key": 3.0,
        "cloudwatch:alarm-metric-standard": 0.4,  # past the free tier
        "eks:cluster-standard-support": 0.2,
    }


def test_build_keeps_what_it_cannot_extract_and_records_the_offer_sources() -> None:
    current = load_snapshot()
    built = build_snapshot(current, OFFERS, "us-east-1", WANTED, "2027-01-02")
    prices = built["prices"]["us-east-1"]
    assert prices["cloudwatch:dashboard"] == current["prices"]["us-east-1"]["cloudwatch:dashboard"]
    assert prices["sagemaker:hosting:ml.c5.xlarge"]["source"] == "price-list:AmazonSageMaker"
    source = built["sources"]["price-list:AmazonSageMaker"]
    assert source["kind"] == "aws" and source["publicationDate"] == "2026-12-01T00:00:00Z"
    assert "/AmazonSageMaker/current/us-east-1/index.json" in source["url"]
    assert built["snapshotDate"] == "2027-01-02" and "sagemaker:hosting:ml.p5.48xlarge" not in prices


def test_cli_writes_the_snapshot_atomically_and_refuses_an_empty_folder(tmp_path: Path) -> None:
    offers = tmp_path / "offers"
    offers.mkdir()
    snapshot = tmp_path / "aws-prices.json"
    snapshot.write_text(json.dumps(load_snapshot()))
    assert main(["--offers", str(offers), "--snapshot", str(snapshot)]) == 2
    for name, document in OFFERS.items():
        (offers / f"{name}.json").write_text(json.dumps(document))
    assert main(["--offers", str(offers), "--snapshot", str(snapshot)]) == 0
    written = json.loads(snapshot.read_text())
    assert written["prices"]["us-east-1"]["kms:key"]["usd"] == 3.0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-prices.")] == []
