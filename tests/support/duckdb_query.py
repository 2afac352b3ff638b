"""Runs one SQL statement with DuckDB over S3 Inventory CSV gzip files, as Athena would over the
inventory's table: argv[1] is a JSON file with the table's name, its columns (all strings, as
the CSV table declares them), the delivery's `dt`, the files and the query. Prints the result
as Athena gives it: the header row, then each row's values as text (NULL as null).

With "parquet" set, the rows are first written as S3 Inventory writes Parquet (keys decoded,
size a bigint, last_modified_date a timestamp, is_delete_marker a boolean) to that path, and
the table is that file."""
import json
import sys

import duckdb

args = json.load(open(sys.argv[1]))
db = duckdb.connect()
schema = args["table"].split(".")[0]
db.execute(f"CREATE SCHEMA {schema}")
columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in args["columns"]) + "}"
files = "[" + ", ".join(f"'{f}'" for f in args["files"]) + "]"
csv = (
    f"read_csv({files}, header = false, columns = {columns}, compression = 'gzip', quote = '\"', "
    "escape = '\"', auto_detect = false)"
)
if args.get("parquet"):
    db.execute(
        "COPY (SELECT bucket, url_decode(replace(key, '+', '%20')) AS key, try_cast(size AS BIGINT) AS size, "
        "CAST(replace(replace(last_modified_date, 'T', ' '), 'Z', '') AS TIMESTAMP) AS last_modified_date, "
        f"e_tag, is_delete_marker = 'true' AS is_delete_marker FROM {csv}) TO '{args['parquet']}' (FORMAT parquet)"
    )
    source = f"read_parquet('{args['parquet']}')"
else:
    source = csv
db.execute(f"CREATE VIEW {args['table']} AS SELECT *, '{args['dt']}' AS dt FROM {source}")
cursor = db.execute(args["query"])
text = lambda v: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
rows = [[d[0] for d in cursor.description]] + [[text(v) for v in r] for r in cursor.fetchall()]
print(json.dumps(rows))
