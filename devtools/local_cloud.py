"""`make run`: the local cloud. Every function of template.yaml, each with its own environment.

- The API function behind API Gateway's stand-in (devtools.api_gateway): each HTTP request
  becomes an HTTP API (payload 2.0) event for its handler, run in a pool of execution
  environments (devtools.execution_environments): processes of their own, each importing the
  handler once, serving one invocation at a time, at most `--concurrency` of them. Past that,
  a request gets API Gateway's answer to a throttled invocation (500) at once, or after waiting
  up to `--queue-timeout` seconds for an environment to come free (a local convenience: Lambda
  never queues a synchronous invocation).
- The deploy's PreTraffic hook (the migration function) once, before any request is served.
- Scheduled functions (maintenance) through the scheduler's stand-in: at start, then every
  `--maintenance-every` seconds (every minute in AWS by default); the audit events it publishes
  go to EventBridge's stand-in (moto), whose one rule copies them to an SQS queue
  (devtools.local_events).
- Functions on an SQS queue (the mailer) through the event source mapping's stand-in
  (devtools.sqs_poller), on moto's SQS; what they send to SES's stand-in (moto's SES v2) shows
  in the local mailbox on http://127.0.0.1:8025 (devtools.mailbox).
- Functions on a `METHOD /path` route of the same API (the example resource server), each in
  execution environments of its own, behind the route's JWT authorizer, stood in by
  devtools.jwt_authorizer: it verifies the token against the keys the API itself publishes.

Keys come from SSM (moto's server), data from the embedded PostgreSQL (or AUTHAPI_DATABASE_URL),
through the code paths used in AWS. Ctrl-C stops it all and prints each function's counts.

Usage: python -m devtools.local_cloud [--port 8000] [--concurrency 4] [--queue-timeout 0]
                                      [--maintenance-every 60] [--mailbox-port 8025]
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from devtools.api_gateway import HttpApi, Route, Unauthorized
from devtools.execution_environments import FunctionConfig, FunctionPool, InvocationFailed
from devtools.jwt_authorizer import JwtAuthorizer
from devtools.lambda_events import http_api_event, response_json
from devtools.local_stack import LOCAL_PARAMETERS, LocalStack, start_stand_ins
from devtools.mailbox import PORT as MAILBOX_PORT
from devtools.mailbox import MailboxServer
from devtools.template_env import Template, load_template, resolve_value

HOST = "127.0.0.1"
HTTP, HTTP_ROUTE, SCHEDULE, DEPLOY_HOOK = "http", "http route", "schedule", "deploy hook"
QUEUE = "queue"  # an SQS event source: `event` holds its BatchSize


@dataclass(frozen=True)
class TemplateFunction:
    """A function of the template, and the trigger the local cloud stands in for."""

    logical_id: str
    handler: str
    timeout_seconds: float
    memory_mb: int
    trigger: str  # HTTP ($default), HTTP_ROUTE, SCHEDULE or DEPLOY_HOOK
    event: dict[str, Any] = field(default_factory=dict)  # what a schedule or hook sends
    route: tuple[str, str] | None = None  # HTTP_ROUTE: (method, path)
    # HTTP_ROUTE behind a JWT authorizer: its JwtConfiguration, as the template writes it
    jwt_configuration: dict[str, Any] | None = None

    def config(self, stack: LocalStack) -> FunctionConfig:
        return FunctionConfig(
            logical_id=self.logical_id,
            handler=self.handler,
            timeout_seconds=self.timeout_seconds,
            memory_mb=self.memory_mb,
            environment=stack.function_environment(self.logical_id),
        )


def template_functions(
    template: Template | None = None,
) -> tuple[list[TemplateFunction], list[str]]:
    """Every AWS::Serverless::Function, with its trigger; and why any other has no stand-in."""
    template = template or load_template()
    resources: dict[str, Any] = template.get("Resources", {})
    defaults: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    hooks = {
        hook["Ref"]
        for resource in resources.values()
        for hook in (
            resource.get("Properties", {}).get("DeploymentPreference", {}).get("Hooks", {})
        ).values()
        if isinstance(hook, dict) and "Ref" in hook
    }
    functions: list[TemplateFunction] = []
    missing: list[str] = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        events = list((properties.get("Events") or {}).values())
        kinds = {event["Type"] for event in events}
        trigger: str | None = None
        event: dict[str, Any] = {}
        route: tuple[str, str] | None = None
        jwt_configuration: dict[str, Any] | None = None
        if logical_id in hooks and not events:
            trigger = DEPLOY_HOOK  # invoked with {} by hand, as the README says
        elif kinds == {"HttpApi"} and not any("Path" in e.get("Properties", {}) for e in events):
            trigger = HTTP
        elif kinds == {"HttpApi"} and len(events) == 1:
            routed = events[0].get("Properties", {})
            authorizer = (routed.get("Auth") or {}).get("Authorizer")
            jwt_configuration = _jwt_configuration(resources, routed, authorizer)
            if (
                "Path" in routed
                and "Method" in routed
                and (authorizer is None or jwt_configuration)
            ):
                trigger = HTTP_ROUTE
                route = (str(routed["Method"]).upper(), str(routed["Path"]))
        elif kinds == {"SQS"} and len(events) == 1:
            trigger = QUEUE
            event = {"BatchSize": int(events[0].get("Properties", {}).get("BatchSize", 10))}
        elif kinds and kinds <= {"Schedule", "ScheduleV2"} and len(events) == 1:
            trigger = SCHEDULE
            event = json.loads(events[0].get("Properties", {}).get("Input") or "{}")
        if trigger is None or (trigger == HTTP and any(f.trigger == HTTP for f in functions)):
            missing.append(f"{logical_id} ({', '.join(sorted(kinds)) or 'no events'})")
            continue
        functions.append(
            TemplateFunction(
                logical_id=logical_id,
                handler=str(properties["Handler"]),
                timeout_seconds=float(properties.get("Timeout", 3)),
                memory_mb=int(properties.get("MemorySize", 128)),
                trigger=trigger,
                event=event,
                route=route,
                jwt_configuration=jwt_configuration,
            )
        )
    return functions, missing


def _jwt_configuration(
    resources: dict[str, Any], event_properties: dict[str, Any], authorizer: str | None
) -> dict[str, Any] | None:
    """The JwtConfiguration of the event's authorizer, declared on its HttpApi's Auth."""
    if authorizer is None:
        return None
    api = event_properties.get("ApiId", {})
    api_name = api.get("Ref") if isinstance(api, dict) else None
    declared = resources.get(str(api_name), {}).get("Properties", {}).get("Auth", {})
    configuration = declared.get("Authorizers", {}).get(authorizer, {}).get("JwtConfiguration")
    return configuration if isinstance(configuration, dict) else None


def local_authorizer(function: TemplateFunction, api: FunctionPool) -> JwtAuthorizer | None:
    """The JWT authorizer of a route, with the template's issuer and audience as resolved here,
    reading the keys from the local API (`api`) as API Gateway reads them from the issuer."""
    configuration = function.jwt_configuration
    if configuration is None:
        return None

    def fetch(path: str) -> Any:
        try:
            response = api.invoke(http_api_event("GET", path))
        except InvocationFailed as error:
            raise Unauthorized(f"{path}: {error}") from None
        if response.get("statusCode") != 200:
            raise Unauthorized(f"{path} answered {response.get('statusCode')}")
        return response_json(response)

    issuer = resolve_value(configuration["issuer"], parameters=LOCAL_PARAMETERS)
    audience = resolve_value(configuration["audience"], parameters=LOCAL_PARAMETERS)
    return JwtAuthorizer(
        issuer=str(issuer),
        audience=[audience] if isinstance(audience, str) else audience,
        fetch=fetch,
    )


class Scheduler(threading.Thread):
    """EventBridge Scheduler's stand-in: each scheduled function at start, then every `every`
    seconds after the previous run ended."""

    def __init__(self, jobs: list[tuple[FunctionPool, dict[str, Any]]], every: float) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.jobs = jobs
        self.every = every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for pool, event in self.jobs:
                try:
                    pool.invoke(event)
                except Exception as error:  # as in AWS, the next run redoes it
                    print(f"{pool.config.logical_id}: scheduled run failed: {error}", flush=True)
            self.stopped.wait(self.every)

    def stop(self) -> None:
        self.stopped.set()


STATE_FILE = Path(".local/local-cloud.json")  # where `make mail-test` finds the mail queue


def _start_mail(
    functions: list[TemplateFunction],
    stack: LocalStack,
    pools: list[FunctionPool],
    mailbox_port: int,
) -> tuple[list[Any], MailboxServer | None]:
    """The queue's consumers (the mailer), each behind an SQS poller, and the local mailbox."""
    from devtools.local_mail import REGION, client
    from devtools.mailbox import moto_sent_messages, serve_mailbox
    from devtools.sqs_poller import SqsPoller

    if stack.mail is None:
        return [], None
    pollers = []
    for function in (f for f in functions if f.trigger == QUEUE):
        pool = FunctionPool(function.config(stack), concurrency=1)
        pools.append(pool)
        poller = SqsPoller(
            pool,
            sqs=client("sqs", stack.mail.endpoint),
            queue_url=stack.mail.queue_url,
            batch_size=int(function.event["BatchSize"]),
            region=REGION,
        )
        poller.start()
        pollers.append(poller)
        print(f"{function.logical_id}: on the mail queue (SQS stand-in, moto)", flush=True)
    mailbox = serve_mailbox(moto_sent_messages(), port=mailbox_port)
    print(f"local mailbox: {mailbox.url} (JSON: {mailbox.url}/api/messages)", flush=True)
    if mailbox_port == MAILBOX_PORT:  # `make run`, not a test's cloud on ports of its own
        STATE_FILE.parent.mkdir(exist_ok=True)
        STATE_FILE.write_text(
            json.dumps(
                {
                    "mail_queue_url": stack.mail.queue_url,
                    "aws_endpoint": stack.mail.endpoint,
                    "audit_events_queue_url": stack.events.queue_url if stack.events else None,
                }
            )
        )
    return pollers, mailbox


def _stop_on_sigterm(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # `kill` stops it as Ctrl-C does, stand-ins and all


def serve(
    port: int,
    *,
    concurrency: int,
    queue_timeout: float,
    maintenance_every: float,
    mailbox_port: int = MAILBOX_PORT,
) -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    functions, missing = template_functions()
    for name in missing:
        print(f"local cloud: {name} has no trigger stand-in here yet: not run", flush=True)
    stack = start_stand_ins()
    print(f"SSM stand-in (moto) on {stack.ssm_endpoint}; {stack.database_description}", flush=True)
    if stack.events is not None:
        print(
            f"audit events: bus {stack.events.bus_name} (EventBridge stand-in, moto), every "
            f"event copied to {stack.events.queue_url}",
            flush=True,
        )
    pools: list[FunctionPool] = []
    scheduler: Scheduler | None = None
    server: HttpApi | None = None
    pollers: list[Any] = []
    mailbox: MailboxServer | None = None
    try:
        for function in (f for f in functions if f.trigger == DEPLOY_HOOK):
            hook = FunctionPool(function.config(stack), concurrency=1)
            pools.append(hook)
            result = hook.invoke(function.event)
            hook.close()
            print(f"{function.logical_id} (PreTraffic hook): {json.dumps(result)}", flush=True)
        jobs = []
        for function in (f for f in functions if f.trigger == SCHEDULE):
            pools.append(FunctionPool(function.config(stack), concurrency=1))
            jobs.append((pools[-1], function.event))
            print(f"{function.logical_id}: every {maintenance_every:g} s (scheduled)", flush=True)
        scheduler = Scheduler(jobs, maintenance_every)
        scheduler.start()
        pollers, mailbox = _start_mail(functions, stack, pools, mailbox_port)
        for function in (f for f in functions if f.trigger == HTTP):
            api = FunctionPool(
                function.config(stack), concurrency=concurrency, queue_timeout=queue_timeout
            )
            pools.append(api)
            routes: dict[tuple[str, str], Route] = {}
            for routed in functions:
                if routed.trigger != HTTP_ROUTE or routed.route is None:
                    continue
                pool = FunctionPool(
                    routed.config(stack), concurrency=concurrency, queue_timeout=queue_timeout
                )
                pools.append(pool)
                routes[routed.route] = Route(pool, local_authorizer(routed, api))
                guard = " behind the JWT authorizer" if routed.jwt_configuration else ""
                print(f"{routed.logical_id} on {' '.join(routed.route)}{guard}", flush=True)
            server = HttpApi((HOST, port), api, routes)
            print(
                f"local cloud: {function.logical_id} on http://{HOST}:{port} (docs: /docs), up "
                f"to {concurrency} execution environments, then throttled (500) after "
                f"{queue_timeout:g} s in the queue; maintenance every {maintenance_every:g} s",
                flush=True,
            )
        if server is None:
            raise SystemExit("local cloud: template.yaml has no HTTP API function")
        server.serve_forever()
    except InvocationFailed as error:
        raise SystemExit(f"local cloud: {error}") from None
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        if server is not None:
            server.server_close()
        if scheduler is not None:
            scheduler.stop()
        for poller in pollers:
            poller.stop()
        if mailbox is not None:
            mailbox.shutdown()
        # all at once: each environment ends after its invocation, if any
        with ThreadPoolExecutor() as stopping:
            for stop in (stack.stop, *(pool.close for pool in pools)):
                stopping.submit(stop)
        for pool in pools:
            print(pool.summary(), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--concurrency", type=int, default=4, help="execution environments of the API function"
    )
    parser.add_argument(
        "--queue-timeout",
        type=float,
        default=0,
        help="seconds a request waits for a free environment before its 500 (Lambda: 0)",
    )
    parser.add_argument(
        "--maintenance-every", type=float, default=60, help="seconds between maintenance runs"
    )
    parser.add_argument(
        "--mailbox-port", type=int, default=MAILBOX_PORT, help="the local mailbox (0: any free)"
    )
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    serve(
        args.port,
        concurrency=args.concurrency,
        queue_timeout=args.queue_timeout,
        maintenance_every=args.maintenance_every,
        mailbox_port=args.mailbox_port,
    )


if __name__ == "__main__":
    main()
