"""The preprocessing step: deterministic channels, the label-first convention, sample payloads, raw input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model_code import data, synthetic, tabular
from model_code.schema import FEATURES, LABEL


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_cli_writes_channels_and_samples_deterministically(tmp_path: Path, cli) -> None:
    first = cli("model_code.data", "--out-dir", str(tmp_path / "a"))
    second = cli("model_code.data", "--out-dir", str(tmp_path / "b"))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(a) == [
        "sample_request.csv",
        "sample_request.json",
        "test/test.csv",
        "train/train.csv",
        "validation/validation.csv",
    ]
    assert a == b  # same seed: byte-for-byte the same files


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    assert data.main(["--out-dir", str(tmp_path / "a"), "--seed", "1"]) == 0
    assert data.main(["--out-dir", str(tmp_path / "b"), "--seed", "2"]) == 0
    assert (tmp_path / "a/train/train.csv").read_bytes() != (tmp_path / "b/train/train.csv").read_bytes()


def test_channels_are_label_first_without_header(dataset_dir: Path) -> None:
    sizes = {}
    for split in ("train", "validation", "test"):
        lines = (dataset_dir / split / f"{split}.csv").read_text().splitlines()
        sizes[split] = len(lines)
        first = lines[0].split(",")
        assert len(first) == 1 + len(FEATURES)
        float(first[1])  # a number, not a header
        X, y = tabular.read_channel(dataset_dir / split, split)
        assert set(np.unique(y)) == {0, 1}
        assert X.shape == (len(lines), len(FEATURES))
    assert sizes == {"train": 4200, "validation": 900, "test": 900}


def test_splits_partition_the_generated_rows(dataset_dir: Path) -> None:
    X, y = synthetic.generate()
    parts = [tabular.read_channel(dataset_dir / s, s) for s in ("train", "validation", "test")]
    got = np.concatenate([np.column_stack([p[1], p[0]]) for p in parts])
    want = np.column_stack([y, X])
    # same multiset of rows: sort both lexicographically
    assert np.array_equal(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])


def test_sample_requests_are_features_only_and_agree(dataset_dir: Path) -> None:
    csv_rows = [
        [float(v) for v in line.split(",")]
        for line in (dataset_dir / "sample_request.csv").read_text().splitlines()
    ]
    instances = json.loads((dataset_dir / "sample_request.json").read_text())["instances"]
    assert len(csv_rows) == data.SAMPLE_ROWS
    assert all(len(r) == len(FEATURES) for r in csv_rows)
    assert np.array_equal(np.array(csv_rows), np.array(instances, dtype=float))
    X_test, _ = tabular.read_channel(dataset_dir / "test", "test")
    assert np.array_equal(np.array(csv_rows), X_test[: data.SAMPLE_ROWS])


def test_raw_csv_with_header_in_any_column_order(tmp_path: Path, run_main) -> None:
    X, y = synthetic.generate(200, seed=3)
    header = ["customer_id", *reversed(FEATURES), LABEL]
    lines = [",".join(header)]
    for i, (row, label) in enumerate(zip(X, y, strict=True)):
        lines.append(",".join([f"c{i}", *(tabular.format_number(v) for v in row[::-1]), str(label)]))
    raw = tmp_path / "raw.csv"
    raw.write_text("\n".join(lines) + "\n")
    result = run_main("model_code.data", "--out-dir", str(tmp_path / "out"), "--raw", str(raw), "--seed", "5")
    assert result.returncode == 0, result.stderr
    parts = [tabular.read_channel(tmp_path / "out" / s, s) for s in ("train", "validation", "test")]
    assert sum(len(p[1]) for p in parts) == 200
    got = np.concatenate([p[0] for p in parts])
    assert np.array_equal(got[np.lexsort(got.T[::-1])], X[np.lexsort(X.T[::-1])])


def test_raw_csv_missing_column_is_a_clear_error(tmp_path: Path, run_main) -> None:
    raw = tmp_path / "raw.csv"
    raw.write_text(f"{LABEL},age\n1,30\n")
    result = run_main("model_code.data", "--out-dir", str(tmp_path / "out"), "--raw", str(raw))
    assert result.returncode == 2
    assert "missing column(s) income_k" in result.stderr
    assert "Traceback" not in result.stderr


def test_raw_csv_non_numeric_value_names_line_and_column(tmp_path: Path, run_main) -> None:
    raw = tmp_path / "raw.csv"
    header = [LABEL, *FEATURES]
    raw.write_text(",".join(header) + "\n" + ",".join(["1", "30", "abc", *["1"] * 6]) + "\n")
    result = run_main("model_code.data", "--out-dir", str(tmp_path / "out"), "--raw", str(raw))
    assert result.returncode == 2
    assert "line 2: column 'income_k' must be a number, got 'abc'" in result.stderr


def test_too_few_rows_is_usage_error(tmp_path: Path, run_main) -> None:
    result = run_main("model_code.data", "--out-dir", str(tmp_path), "--rows", "5")
    assert result.returncode == 2
    assert "--rows must be from 40 to 5000000, got 5" in result.stderr


def _raw_file(tmp_path: Path, rows: int = 60) -> Path:
    X, y = synthetic.generate(rows, seed=4)
    lines = [",".join([LABEL, *FEATURES])]
    lines += [",".join([str(label), *(tabular.format_number(v) for v in row)]) for row, label in zip(X, y, strict=True)]
    raw = tmp_path / "raw.csv"
    raw.write_text("\n".join(lines) + "\n")
    return raw


def test_a_pinned_run_reads_only_the_bytes_it_was_pinned_to(tmp_path: Path, run_main) -> None:
    """`--raw-sha256` is S3's checksum of the run's copy (base64 SHA-256): the same bytes pass, any change fails."""
    import base64
    import hashlib

    raw = _raw_file(tmp_path)
    digest = base64.b64encode(hashlib.sha256(raw.read_bytes()).digest()).decode()
    ok = run_main("model_code.data", "--out-dir", str(tmp_path / "a"), "--raw", str(raw), "--raw-sha256", digest)
    assert ok.returncode == 0, ok.stderr
    raw.write_bytes(raw.read_bytes().replace(b"\n", b"\r\n", 1))  # one byte more: a replaced copy
    bad = run_main("model_code.data", "--out-dir", str(tmp_path / "b"), "--raw", str(raw), "--raw-sha256", digest)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    [line] = bad.stderr.splitlines()
    assert f"is not the pinned data's {digest}" in line and "changed after start-training pinned it" in line
    assert not (tmp_path / "b").exists()  # nothing written from the wrong data


def test_an_unpinned_run_checks_nothing_and_a_digest_needs_a_file(tmp_path: Path, run_main) -> None:
    raw = _raw_file(tmp_path)
    unpinned = run_main("model_code.data", "--out-dir", str(tmp_path / "a"), "--raw", str(raw),
                        "--raw-sha256", data.UNPINNED)
    assert unpinned.returncode == 0, unpinned.stderr
    alone = run_main("model_code.data", "--out-dir", str(tmp_path / "b"), "--raw-sha256", "abc=")
    assert alone.returncode == 2 and "--raw-sha256 needs --raw" in alone.stderr
