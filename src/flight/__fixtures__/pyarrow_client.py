"""Reads Sluice's Flight server with pyarrow's FlightClient and prints what it saw as JSON.

Usage: pyarrow_client.py <port> <cluster secret>
"""

import json
import sys
import time

import pyarrow.flight as flight

port, secret = sys.argv[1], sys.argv[2]
client = flight.FlightClient(f"grpc://127.0.0.1:{port}")
options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {secret}".encode())])
report = {}

# The stream: schema, then every batch with its arrival time (to see that none was held back).
reader = client.do_get(flight.Ticket(b"every-kind"), options)
report["schema"] = [[field.name, str(field.type), field.nullable] for field in reader.schema]
report["schema_metadata"] = {
    key.decode(): value.decode() for key, value in (reader.schema.metadata or {}).items()
}
start = time.monotonic()
batches = []
while True:
    try:
        chunk = reader.read_chunk()
    except StopIteration:
        break
    batches.append({"at_ms": (time.monotonic() - start) * 1000, "rows": chunk.data.to_pylist()})
report["batches"] = batches


def error_of(call):
    try:
        call()
    except Exception as error:  # FlightError subclasses, or ArrowInvalid etc. by gRPC code
        return {"class": type(error).__name__, "message": str(error)}
    return None


report["handler_error"] = error_of(
    lambda: client.do_get(flight.Ticket(b"fail"), options).read_all()
)
wrong = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer wrong")])
report["wrong_secret"] = error_of(
    lambda: client.do_get(flight.Ticket(b"every-kind"), wrong).read_all()
)
report["no_secret"] = error_of(lambda: client.do_get(flight.Ticket(b"every-kind")).read_all())
report["actions"] = [[action.type, action.description] for action in client.list_actions(options)]
report["action_result"] = [
    result.body.to_pybytes().decode() for result in client.do_action(("echo", b"ping"), options)
]

print(json.dumps(report))
