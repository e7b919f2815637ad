#!/usr/bin/env python3
"""Runs the report SQL in queries/ on Apache Spark over a tally lake's Parquet files, unchanged
but for the placeholders, and compares every result with DuckDB's over the same files.

    pip install pyspark duckdb          # Spark 4 needs Java 17+
    python3 bench/distributed_spark.py --lake /tmp/lake [--master local[2] | spark://host:7077]

The lake's tables are Hive-partitioned folders (`attributed/billing_period=YYYY-MM/...`,
`line_items/provider=aws/billing_period=YYYY-MM/...`), which Spark discovers as partition
columns. The only session settings the SQL needs: double-quoted identifiers (ANSI SQL, the
FOCUS column names are case-sensitive) and UTC as the session time zone (a charge day is its
UTC date). Exits non-zero if a query fails or its rows differ from DuckDB's (money compared
to the cent; Spark and DuckDB both sum DECIMAL(38,20) exactly).
"""
import argparse
import datetime
import decimal
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pipeline import fill, lake_window  # noqa: E402

# The report queries that read only attributed and line_items.
QUERIES = ["weekly_spend_by_team", "week_drivers", "weekly_unallocated_reasons", "report_daily_spend", "coverage",
           "unallocated_reasons", "budget_daily", "report_currencies", "report_data_range", "demo_summary",
           "quarterly_commitment_coverage"]


def normal(row):
    """Cells comparable across engines: money to the cent, floats to 6 places."""
    out = []
    for cell in row:
        if isinstance(cell, decimal.Decimal):
            out.append(str(cell.quantize(decimal.Decimal("0.01"))))
        elif isinstance(cell, float):
            out.append(f"{cell:.6f}")
        elif isinstance(cell, datetime.datetime):
            out.append(cell.date().isoformat() if cell.time() == datetime.time() else cell.isoformat())
        elif isinstance(cell, datetime.date):
            out.append(cell.isoformat())
        else:
            out.append(cell)
    return tuple(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", required=True)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    lake = os.path.abspath(args.lake)

    import duckdb
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(args.master).appName("tally-queries")
             .config("spark.sql.ansi.enabled", "true")
             .config("spark.sql.ansi.doubleQuotedIdentifiers", "true")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("attributed", "line_items"):
        spark.read.parquet(f"{lake}/{table}").createOrReplaceTempView(table)
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM "
                    f"read_parquet('{lake}/{table}/**/*.parquet', hive_partitioning = true)")

    as_of, currency, periods = lake_window(lake)
    failed = []
    for name in QUERIES:
        path = os.path.join(ROOT, "queries", f"{name}.sql")
        if not os.path.exists(path):
            continue
        sql = fill(open(path).read(), as_of, currency, periods).strip().rstrip(";")
        try:
            spark_rows = [normal(tuple(r)) for r in spark.sql(sql).collect()]
        except Exception as e:  # noqa: BLE001 - report every query, then fail
            failed.append(name)
            print(f"{name}: Spark failed: {str(e).splitlines()[0]}")
            continue
        duck_rows = [normal(r) for r in con.sql(sql).fetchall()]
        same = sorted(map(repr, spark_rows)) == sorted(map(repr, duck_rows))
        print(f"{name}: {len(spark_rows)} rows, {'same as DuckDB' if same else 'DIFFERENT from DuckDB'}")
        if not same:
            failed.append(name)
            print("  spark :", spark_rows[:3], "\n  duckdb:", duck_rows[:3])
    spark.stop()
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
