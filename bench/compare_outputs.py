"""Compare two `matchtag run` outputs table by table: same rows, same values.

    python bench/compare_outputs.py OUT_A OUT_B [--tables poses tracks events] [--json]

For checking that a refactor (or a runner, or a worker count) changes no tag.  Rows are
matched after sorting by every column; float columns must agree to ``--atol``
(default 0: bit-identical).  Columns that name the run itself (run_id, tagged_at) are
left out.  Exit 0 when every table matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagging.tables.queries import read_table  # noqa: E402

RUN_COLUMNS = {"run_id", "tagged_at"}


def compare(a: pd.DataFrame, b: pd.DataFrame, atol: float) -> dict:
    cols = sorted((set(a.columns) & set(b.columns)) - RUN_COLUMNS)
    out = {"rows": [len(a), len(b)], "columns_only_in_a": sorted(set(a.columns) - set(b.columns)),
           "columns_only_in_b": sorted(set(b.columns) - set(a.columns))}
    if len(a) != len(b):
        return {**out, "equal": False, "why": "row counts differ"}
    a = a[cols].sort_values(cols, kind="stable").reset_index(drop=True)
    b = b[cols].sort_values(cols, kind="stable").reset_index(drop=True)
    worst = {}
    for c in cols:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            d = np.abs(x.to_numpy(np.float64) - y.to_numpy(np.float64))
            diff = float(d[~np.isnan(d)].max()) if (~np.isnan(d)).any() else 0.0   # all-null columns: 0
            same_nan = np.array_equal(x.isna().to_numpy(), y.isna().to_numpy())
            if not same_nan or diff > atol:
                worst[c] = float(diff)
        elif not x.astype(str).equals(y.astype(str)):
            worst[c] = "values differ"
    return {**out, "equal": not worst and not out["columns_only_in_a"] and not out["columns_only_in_b"],
            "differing_columns": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tables", nargs="+", default=["poses", "tracks", "events"])
    ap.add_argument("--atol", type=float, default=0.0)
    ap.add_argument("--plain", action="store_true",
                    help="read every Parquet file under DIR/<table> with pandas (outputs written before "
                         "commit records existed); default: the committed rows")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    def read(root: str, table: str) -> pd.DataFrame:
        if not args.plain:
            return read_table(root, table)
        df = pd.read_parquet(Path(root) / table)
        df["video_id"] = df["video_id"].astype(str)
        return df

    result = {t: compare(read(args.a, t), read(args.b, t), args.atol) for t in args.tables}
    ok = all(r["equal"] for r in result.values())
    if args.json:
        print(json.dumps({"equal": ok, "tables": result}, indent=1))
    else:
        for t, r in result.items():
            print(f"{t:8s} rows {r['rows'][0]} / {r['rows'][1]}: {'identical' if r['equal'] else r}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
