"""`make bench`: cold start, warm latency, database round trips and deployment size.

`python -m devtools.bench` measures and writes .local/reports/bench.json;
`python -m devtools.bench.report` turns that JSON into docs/benchmarks.md.
"""
