"""Runs an emitted attribute.sql on Apache Spark in local mode (pyspark from PyPI, the
machine's Java 17+), statement by statement, as `spark-sql -f attribute.sql` would.

    python3 tests/it/spark_run.py DIR
"""
import os
import sys
import time

from pyspark.sql import SparkSession

folder = sys.argv[1]
spark = (SparkSession.builder.master("local[2]").appName("tally-emitted-sql")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.driver.memory", "2g")
         # The emitted SQL joins large cached tables; only the mappings' tables are broadcast.
         .config("spark.sql.autoBroadcastJoinThreshold", "-1")
         .config("spark.sql.adaptive.autoBroadcastJoinThreshold", "-1")
         .config("spark.sql.warehouse.dir", os.path.join(folder, "_warehouse"))
         .getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
with open(os.path.join(folder, "attribute.sql")) as f:
    text = f.read()
for statement in text.split(";\n"):
    if statement.strip() and not all(l.startswith("--") or not l.strip() for l in statement.splitlines()):
        start = time.perf_counter()
        spark.sql(statement)
        if os.environ.get("TALLY_SPARK_TIMES"):
            head = next((l for l in statement.splitlines() if l.startswith(("CACHE", "CREATE", "SET", "WITH"))), "?")
            print(f"{time.perf_counter() - start:7.2f}s {head[:70]}", file=sys.stderr, flush=True)
spark.stop()
