"""The snapshot refresh: AWS Price List bulk files (in their published shape) in, snapshot entries out.

The offer files here are small hand-made fixtures of the published format: products / attributes (the names
AWS uses: servicecode, location, locationType, regionCode, instanceName, platoinstancetype, usagetype) and
terms.OnDemand / priceDimensions / pricePerUnit.USD with AWS's on-demand term and rate codes (JRTCKXETXF,
6YS6EN2CT7), as in AWS's "Reading the service price list file" page, the CSV rows of a published offer file and
vantage-sh/ec2instances.info's sagemaker.py. The prices are made up: what is tested is which product each entry
comes from, never the market.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.rules.pricing import load_snapshot
from policies.tools.refresh_prices import build_snapshot, extract, main, unpriced_types

ON_DEMAND, RATE = "JRTCKXETXF", "6YS6EN2CT7"


def product(sku: str, family: str, region: str = "us-east-1", **attributes: str) -> dict:
    return {"sku": sku, "productFamily": family,
            "attributes": {"location": "somewhere", "locationType": "AWS Region", "regionCode": region, **attributes}}


def ml(sku: str, use: str, instance: str, region: str = "us-east-1", prefix: str = "USE1-") -> dict:
    usage = {"Hosting": "Host", "Training": "Train", "Processing": "Processing"}.get(use, use)
    return product(sku, "ML Instance", region, servicecode="AmazonSageMaker", instanceName=instance,
                   instanceType=instance, platoinstancetype=use, usagetype=f"{prefix}{usage}:{instance}",
                   operation="RunInstance")


def on_demand(sku: str, *tiers: tuple[str, str]) -> dict:
    dimensions = {f"{sku}.{ON_DEMAND}.{RATE}{i}": {
        "rateCode": f"{sku}.{ON_DEMAND}.{RATE}{i}", "description": "made up", "beginRange": begin, "endRange": "Inf",
        "unit": "Hrs", "pricePerUnit": {"USD": usd}, "appliesTo": []} for i, (begin, usd) in enumerate(tiers)}
    term = {"offerTermCode": ON_DEMAND, "sku": sku, "effectiveDate": "2026-12-01T00:00:00Z",
            "priceDimensions": dimensions, "termAttributes": {}}
    return {sku: {f"{sku}.{ON_DEMAND}": term}}


def offer(code: str, products: list[dict], terms: dict, publication: str = "2026-12-01T00:00:00Z") -> dict:
    return {"formatVersion": "v1.0", "offerCode": code, "publicationDate": publication,
            "products": {p["sku"]: p for p in products}, "terms": {"OnDemand": terms}}


SAGEMAKER = offer("AmazonSageMaker",
    [ml("H1", "Hosting", "ml.c5.xlarge"),
     ml("T1", "Training", "ml.m5.xlarge"),
     ml("P1", "Processing", "ml.m5.large", prefix=""),
     ml("S1", "SpotTraining", "ml.m5.xlarge"),  # spot training: not the on-demand training price
     ml("N1", "Hosting", "ml.p5.48xlarge"),  # named by no stack: not kept
     ml("E1", "Hosting", "ml.c5.xlarge", region="eu-west-1", prefix="EU-"),  # another region
     {**ml("O1", "Hosting", "ml.c5.xlarge"), "attributes": {**ml("O1", "Hosting", "ml.c5.xlarge")["attributes"],
                                                             "locationType": "AWS Outposts"}}],
    {**on_demand("H1", ("0", "0.5000000000")), **on_demand("T1", ("0", "0.6")), **on_demand("P1", ("0", "0.7")),
     **on_demand("S1", ("0", "0.01")), **on_demand("N1", ("0", "99")), **on_demand("E1", ("0", "0.55")),
     **on_demand("O1", ("0", "0.9"))},
)
EC2 = offer("AmazonEC2",
    [product("E1", "Compute Instance", instanceType="m6i.large", operatingSystem="Linux", tenancy="Shared",
             preInstalledSw="NA", capacitystatus="Used", usagetype="BoxUsage:m6i.large"),
     product("E2", "Compute Instance", instanceType="m6i.large", operatingSystem="Windows", tenancy="Shared",
             preInstalledSw="NA", capacitystatus="Used", usagetype="BoxUsage:m6i.large"),
     product("E3", "Compute Instance", instanceType="m6i.large", operatingSystem="Linux", tenancy="Dedicated",
             preInstalledSw="NA", capacitystatus="Used", usagetype="DedicatedUsage:m6i.large")],
    {**on_demand("E1", ("0", "0.2")), **on_demand("E2", ("0", "0.9")), **on_demand("E3", ("0", "0.8"))},
)
KMS = offer("awskms", [product("K1", "Encryption Key", usagetype="us-east-1-KMS-Keys")], on_demand("K1", ("0", "3")))
CLOUDWATCH = offer("AmazonCloudWatch", [product("C1", "Alarm", usagetype="CW:AlarmMonitorUsage")],
                   on_demand("C1", ("0", "0"), ("10", "0.4")))  # a free tier first: the paid price is taken
EKS = offer("AmazonEKS", [product("X1", "Compute", usagetype="USE1-AmazonEKS-Hours:perCluster")],
            on_demand("X1", ("0", "0.2")))
OFFERS = {"AmazonSageMaker": SAGEMAKER, "AmazonEC2": EC2, "awskms": KMS, "AmazonCloudWatch": CLOUDWATCH,
          "AmazonEKS": EKS}
WANTED = {"ml.c5.xlarge", "ml.m5.xlarge", "ml.m5.large", "m6i.large"}


def test_extract_picks_the_on_demand_product_of_each_kind_in_the_region() -> None:
    got = {k: v["usd"] for k, v in extract(OFFERS, WANTED, "us-east-1").entries.items()}
    assert got == {
        "sagemaker:hosting:ml.c5.xlarge": 0.5,  # not eu-west-1's, not the Outpost's
        "sagemaker:training:ml.m5.xlarge": 0.6,  # not the spot product
        "sagemaker:processing:ml.m5.large": 0.7,
        "ec2:linux-on-demand:m6i.large": 0.2,  # not Windows, not dedicated
        "kms:key": 3.0,
        "cloudwatch:alarm-metric-standard": 0.4,  # past the free tier
        "eks:cluster-standard-support": 0.2,
    }
    assert extract(OFFERS, WANTED, "eu-west-1").entries["sagemaker:hosting:ml.c5.xlarge"]["usd"] == 0.55


def test_a_product_without_platoinstancetype_is_matched_by_its_usage_type() -> None:
    bare = product("U1", "ML Instance", usagetype="USE1-Train:ml.m5.xlarge")
    got = extract({"AmazonSageMaker": offer("AmazonSageMaker", [bare], on_demand("U1", ("0", "1.25")))}, WANTED)
    assert {k: v["usd"] for k, v in got.entries.items()} == {"sagemaker:training:ml.m5.xlarge": 1.25}


def test_two_products_disagreeing_on_one_entry_are_a_conflict_and_neither_is_taken() -> None:
    twice = offer("AmazonSageMaker", [ml("A", "Hosting", "ml.c5.xlarge"), ml("B", "Hosting", "ml.c5.xlarge")],
                  {**on_demand("A", ("0", "0.5")), **on_demand("B", ("0", "0.6"))})
    got = extract({"AmazonSageMaker": twice}, WANTED)
    assert got.entries == {} and got.conflicts == {"sagemaker:hosting:ml.c5.xlarge": [0.5, 0.6]}
    built, _ = build_snapshot(load_snapshot(), {"AmazonSageMaker": twice}, "us-east-1", WANTED, "2027-01-02")
    assert "ambiguous" in built["missing"]["sagemaker:hosting:ml.c5.xlarge"]
    assert "sagemaker:hosting:ml.c5.xlarge" not in built["prices"]["us-east-1"]


KEYS = st.tuples(st.sampled_from(["Hosting", "Training", "Processing"]),
                 st.sampled_from(sorted(WANTED - {"m6i.large"})))
PRODUCTS = st.lists(st.tuples(st.sampled_from(["us-east-1", "eu-west-1", "ap-south-1"]), KEYS,
                              st.integers(min_value=1, max_value=5000)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(PRODUCTS, st.sampled_from(["us-east-1", "eu-west-1"]))
def test_every_entry_is_a_price_of_that_region_and_key_and_disagreement_takes_none(rows: list, region: str) -> None:
    products = [ml(f"S{i}", use, t, region=r) for i, (r, (use, t), _) in enumerate(rows)]
    terms = {k: v for i, (_, _, cents) in enumerate(rows)
             for k, v in on_demand(f"S{i}", ("0", f"{cents / 1000}")).items()}
    got = extract({"AmazonSageMaker": offer("AmazonSageMaker", products, terms)}, WANTED, region)
    expected: dict[str, set[float]] = {}
    for r, (use, t), cents in rows:
        if r == region:
            expected.setdefault(f"sagemaker:{use.lower()}:{t}", set()).add(cents / 1000)
    single = {k: next(iter(v)) for k, v in expected.items() if len(v) == 1}
    assert {k: v["usd"] for k, v in got.entries.items()} == single
    assert got.conflicts == {k: sorted(v) for k, v in expected.items() if len(v) > 1}


def test_build_keeps_what_it_cannot_extract_and_records_the_offer_sources() -> None:
    current = load_snapshot()
    built, _ = build_snapshot(current, OFFERS, "us-east-1", WANTED, "2027-01-02")
    prices = built["prices"]["us-east-1"]
    assert prices["cloudwatch:dashboard"] == current["prices"]["us-east-1"]["cloudwatch:dashboard"]
    assert prices["sagemaker:hosting:ml.c5.xlarge"]["source"] == "price-list:AmazonSageMaker"
    source = built["sources"]["price-list:AmazonSageMaker"]
    assert source["kind"] == "aws" and source["publicationDate"] == "2026-12-01T00:00:00Z"
    assert source["region"] == "us-east-1" and source["read"] == "2027-01-02"
    assert "/AmazonSageMaker/current/us-east-1/index.json" in source["url"]
    assert built["snapshotDate"] == "2027-01-02" and "sagemaker:hosting:ml.p5.48xlarge" not in prices
    assert unpriced_types(built, "us-east-1", WANTED) == ["ml.m5.xlarge"], "its hosting price is in no file"


def write_offers(folder: Path, offers: dict) -> None:
    folder.mkdir(exist_ok=True)
    for name, document in offers.items():
        (folder / f"{name}.json").write_text(json.dumps(document))


def test_cli_writes_the_snapshot_atomically_and_says_what_changed(tmp_path: Path, capsys) -> None:
    snapshot = tmp_path / "aws-prices.json"
    snapshot.write_text(json.dumps(load_snapshot()))
    write_offers(tmp_path / "offers", OFFERS)
    assert main(["--offers", str(tmp_path / "offers"), "--snapshot", str(snapshot), "--check"]) == 0
    assert json.loads(snapshot.read_text()) == load_snapshot(), "--check writes nothing"
    assert "kms:key: 1.0 -> 3.0" in capsys.readouterr().out
    assert main(["--offers", str(tmp_path / "offers"), "--snapshot", str(snapshot), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["changed"]["kms:key"] == [1.0, 3.0] and "ml.g5.xlarge" in report["unpricedTypes"]
    written = json.loads(snapshot.read_text())
    assert written["prices"]["us-east-1"]["sagemaker:hosting:ml.c5.xlarge"]["usd"] == 0.5
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".aws-prices.")] == []


HOSTILE = {
    "not JSON": ("{products", "not JSON"),
    "a JSON list": ("[]", "not an AWS Price List offer file"),
    "no terms": (json.dumps({"products": {}}), "not an AWS Price List offer file"),
    "another region's file": (json.dumps(offer("AmazonSageMaker", [ml("E", "Hosting", "ml.c5.xlarge", "eu-west-1")],
                                               on_demand("E", ("0", "1")))), "no product for region us-east-1"),
    "a price that is not a number": (json.dumps(offer("AmazonSageMaker", [ml("H", "Hosting", "ml.c5.xlarge")],
                                                      on_demand("H", ("0", "cheap")))), "SKU H: an on-demand price"),
}


@pytest.mark.parametrize("content,message", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_bad_offer_file_exits_two_in_one_line_and_writes_nothing(tmp_path: Path, capsys, content: str,
                                                                   message: str) -> None:
    snapshot = tmp_path / "aws-prices.json"
    snapshot.write_text(json.dumps(load_snapshot()))
    (tmp_path / "AmazonSageMaker.json").write_text(content)
    assert main(["--offers", str(tmp_path), "--snapshot", str(snapshot)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert json.loads(snapshot.read_text()) == load_snapshot()


def test_an_empty_folder_or_a_missing_snapshot_exits_two(tmp_path: Path, capsys) -> None:
    assert main(["--offers", str(tmp_path), "--snapshot", str(tmp_path / "s.json")]) == 2
    assert "none of AmazonSageMaker.json" in capsys.readouterr().err
    write_offers(tmp_path, OFFERS)
    assert main(["--offers", str(tmp_path), "--snapshot", str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err
