"""What the tests share, by concern; conftest.py files only register fixtures built from these.

- `accounts`: test passwords, unique emails, `Account`, `register()` through any client
- `http`: the one client (`ApiClient`, `SyncApiClient`) over ASGI, Lambda events or a socket
- `aws`: SSM stand-ins, the signing-key parameters, Lambda settings from template.yaml, events
- `db`: scratch and dedicated databases, and reading them directly
- `settings`: the settings every tier starts from
- `clock`: `ManualClock`, time that moves only when a test moves it
- `loops`: an event loop on a thread of its own, and waiting for a condition
- `logs`: the JSON log lines and EMF metrics a test captured
- `problems`: assertions on problem+json answers
- `tokens`: hand-made access tokens for attack tests
- `pgbouncer`: a transaction-pooling PgBouncer in front of a database
- `sam`: template.yaml as transformed by the SAM translator
- `local_cloud`: `make run`'s local cloud as a process: its output, its environments' pids
- `lambda_handlers`: stand-in handlers (stdlib only) for execution-environment tests
- `previous_code_flow`: a session through an older commit's app (run standalone, imports none
  of the above)
"""
