"""Runs one SQL statement with DuckDB over S3 Inventory CSV gzip files, as Athena would over the
inventory's table: argv[1] is a JSON file with the table's name, its columns (all strings, as
the CSV table declares them), the delivery's `dt`, the files and the query. Prints the result
as Athena gives it: the header row, then each row's values as text (NULL as null)."""
import json
import sys

import duckdb

args = json.load(open(sys.argv[1]))
db = duckdb.connect()
schema = args["table"].split(".")[0]
db.execute(f"CREATE SCHEMA {schema}")
columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in args["columns"]) + "}"
files = "[" + ", ".join(f"'{f}'" for f in args["files"]) + "]"
db.execute(
    f"CREATE VIEW {args['table']} AS SELECT *, '{args['dt']}' AS dt FROM read_csv({files}, header = false, "
    f"columns = {columns}, compression = 'gzip', quote = '\"', escape = '\"', auto_detect = false)"
)
cursor = db.execute(args["query"])
text = lambda v: None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
rows = [[d[0] for d in cursor.description]] + [[text(v) for v in r] for r in cursor.fetchall()]
print(json.dumps(rows))
