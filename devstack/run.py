"""``make run``: the whole hub on one machine, on the embedded AWS.

Starts the embedded AWS, provisions every resource from chalicelib.adapters.resources, starts
``chalice local`` (stage ``local``) for the routes, and runs the pump for the stream, the queues
and the schedules. Prints the endpoints and the development secrets; stops cleanly on Ctrl-C.

The embedded AWS is moto's in-process backend (``mock_aws``) shared with its ``ThreadedMotoServer``
on the AWS port: the pump and the handlers it calls (the relay, the workers, the sweeper) run in
this process and reach moto without HTTP, while ``chalice local`` (a second process: the API gets
the second core), ``./hub``, the tests and any boto3 client reach the same state on the port.
moto is tuned for the dev stack (devstack/moto_tuning.py): a queue send costs the same at any
depth, and the queues nobody consumes locally keep their newest ``OMNIHUB_LOCAL_QUEUE_RETENTION``
messages (default 1,000; 0 keeps all).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from chalicelib.providers.registry import webhook_endpoints
from devstack.simulators.email import local_sns_environment

ROOT = Path(__file__).resolve().parents[1]
LOCAL_SWITCH_INTERVAL_SECONDS = 0.0005  # Python's default is 0.005: see main()

# Development values, used only where the environment gives none. Printed at start.
DEV_SECRETS: dict[str, str] = {
    "OMNIHUB_API_SIGNING_SECRET": "dev-api-signing-secret",
    "OMNIHUB_API_KEYS": "dev-support:dev-support-key:support,dev-crisis:dev-crisis-key:crisis,"
    "dev-admin:dev-admin-key:admin",
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "OMNIHUB_TWILIO_FROM": "+15005550006",
    "OMNIHUB_TWILIO_WHATSAPP_FROM": "+14155238886",
    "OMNIHUB_META_PHONE_NUMBER_ID": "106540352242922",
    "OMNIHUB_VONAGE_SMS_FROM": "447700900000",
    "OMNIHUB_VONAGE_WHATSAPP_FROM": "447700900000",
    "OMNIHUB_EMAIL_FROM": "care@omnihub.local",
    "TWILIO_AUTH_TOKEN": "dev-twilio-auth-token",
    "META_APP_SECRET": "dev-meta-app-secret",
    "META_VERIFY_TOKEN": "dev-meta-verify-token",
    "META_ACCESS_TOKEN": "dev-meta-access-token",
    "TELEGRAM_SECRET_TOKEN": "dev-telegram-secret-token",
    "TELEGRAM_BOT_TOKEN": "123456:dev-telegram-bot-token",
    "LINE_CHANNEL_SECRET": "dev-line-channel-secret",
    "LINE_CHANNEL_ACCESS_TOKEN": "dev-line-access-token",
    "VIBER_AUTH_TOKEN": "dev-viber-auth-token",
    "X_CONSUMER_SECRET": "dev-x-consumer-secret",
    "X_BEARER_TOKEN": "dev-x-bearer-token",
    "VONAGE_SIGNATURE_SECRET": "dev-vonage-signature-secret-of-32-bytes",
    "VONAGE_API_KEY": "devkey",
    "VONAGE_API_SECRET": "dev-vonage-api-secret",
    "SENDGRID_INBOUND_TOKEN": "dev-sendgrid-inbound-token",
    # P-256 public key (base64 DER SPKI); its private half is ec.derive_private_key(0x0D0E5E9D6E7E1175,
    # SECP256R1()) — a dev-only key, so anyone may sign local SendGrid event posts with it.
    "SENDGRID_EVENT_PUBLIC_KEY": ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEQ08Z0vv3I/RrF/5wKp//iTpS5l4sQf2qlIP3jNBF"
                                  "FbYxxAPB5ffz4KhgjUsS/V5sDCbPQk5kjBU09MQOp5Q56g=="),
    "MAILGUN_SIGNING_KEY": "dev-mailgun-signing-key",
    "POSTMARK_INBOUND_USER": "dev-postmark-user",
    "POSTMARK_INBOUND_PASSWORD": "dev-postmark-password",
    # Keys customer ids and inbound FIFO groups (chalicelib/adapters/id_keys.py); on AWS generated at deploy.
    "OMNIHUB_ID_KEY": "dev-omnihub-id-key-0123456789abcdef",
}


def local_environment(api_port: int, aws_port: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every local process shares: the embedded AWS, stage local, dev secrets."""
    env = dict(os.environ if base is None else base)
    defaults = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "OMNIHUB_STAGE": "local",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "POWERTOOLS_METRICS_DISABLED": "true",  # EMF lines would drown the console locally
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **DEV_SECRETS,
        # The SES endpoint's topic and the local certificate `./hub simulate ses` signs with (trusted
        # on the local stage only).
        **local_sns_environment(),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{aws_port}"
    env.pop("AWS_PROFILE", None)
    return env


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _banner(env: Mapping[str, str], api_port: int, aws_port: int) -> str:
    lines = [
        "",
        "Omnihub is running on the embedded AWS.",
        f"  API (webhooks, REST)   http://127.0.0.1:{api_port}",
        f"  embedded AWS (moto)    http://127.0.0.1:{aws_port}",
        f"  provider sandbox       {env['OMNIHUB_SANDBOX_URL']}  (every sender's API; see ./hub outbox)",
        *textwrap.wrap(", ".join(endpoint.path for endpoint in webhook_endpoints().values()), width=100,
                       initial_indent="  webhook URLs           ", subsequent_indent=" " * 25,
                       break_long_words=False, break_on_hyphens=False),
        "",
        "Development secrets (environment variables of these names override them):",
    ]
    lines += [f"  {name}={env[name]}" for name in sorted(DEV_SECRETS)]
    lines += [
        "",
        "Try:  ./hub simulate api --from alice --text 'Hello'   then   ./hub queues",
        "Stop: Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def configuration_problems(env: dict[str, str]) -> list[str]:
    """Every configuration the hub reads at run time, checked before anything starts: a hub that
    would answer 503 to every call should not start at all."""
    from chalicelib.acknowledgments import load_policy
    from chalicelib.api.auth import SETTING, parse_api_keys
    from chalicelib.core.errors import ConfigError
    from chalicelib.routing import CONFIG_PATH_ENV as ROUTING_CONFIG_ENV
    from chalicelib.routing import load_routing_config

    problems = []
    try:
        parse_api_keys(env.get(SETTING, ""))
    except ConfigError as err:
        problems.append(err.reason)
    try:
        load_policy(env.get("OMNIHUB_ACK_CONFIG") or None)
    except (ConfigError, ValueError) as err:
        problems.append(str(err))
    try:  # the routes are queues: an invalid file would leave messages nowhere to go
        load_routing_config(env.get(ROUTING_CONFIG_ENV) or None)
    except (ConfigError, ValueError) as err:
        problems.append(str(err))  # names the file, the rule and the field
    problems.extend(_feedback_problems(env))
    return problems


def _feedback_problems(env: dict[str, str]) -> list[str]:
    """The feedback (survey) configuration: an invalid file would fail every resolve."""
    from chalicelib.feedback.config import FEEDBACK_CONFIG_ENV, FeedbackConfigError, load_feedback_config

    try:
        load_feedback_config(env.get(FEEDBACK_CONFIG_ENV) or None)
    except FeedbackConfigError as err:
        return [str(err)]  # names the file and the field
    return []


def _start_retention(stage: str, period: float = 5.0) -> threading.Event:
    """Every ``period`` seconds, trim the queues nobody consumes locally to the retention setting."""
    from chalicelib.adapters import resources
    from devstack.moto_tuning import retention, trim_unconsumed

    names = [resources.queue_name(stage, spec) for spec in resources.all_queues() if spec.consumer is None]
    keep = retention()
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(period):
            trim_unconsumed(names, keep)

    threading.Thread(target=run, name="local-queue-retention", daemon=True).start()
    return stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Omnihub locally on the embedded AWS.")
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--aws-port", type=int, default=4566)
    parser.add_argument("--sandbox-port", type=int, default=4580, help="the provider sandbox (outbound APIs)")
    parser.add_argument("--quiet", action="store_true", help="do not print the banner")
    args = parser.parse_args(argv)

    env = local_environment(args.api_port, args.aws_port)
    problems = configuration_problems(env)
    if problems:
        print("Omnihub cannot start: its configuration is invalid.", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    from devstack.sandbox import sandbox_environment, start_sandbox

    sandbox, sandbox_url = start_sandbox(args.sandbox_port)
    for key, value in sandbox_environment(sandbox_url).items():
        env.setdefault(key, value)  # a real provider base URL in the environment wins
    env.setdefault("OMNIHUB_SANDBOX_URL", sandbox_url)
    os.environ.clear()
    os.environ.update(env)

    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    from devstack.moto_tuning import tune_moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per pump poll otherwise

    tune_moto()
    # The moto server's request threads (the API's calls) share this process's GIL with the pump. A
    # thread that gave the GIL up for a socket call waits up to the switch interval (5 ms) to take it
    # back while the pump computes, for each of the ~20 socket calls of a request: a PutItem over HTTP
    # took 300 ms under a burst and the webhooks answered 11/s; at 0.5 ms, 110-127/s (README: "The embedded stack").
    sys.setswitchinterval(LOCAL_SWITCH_INTERVAL_SECONDS)
    embedded = mock_aws()  # this process's own calls: in process (its server below shares the state)
    embedded.start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.aws_port, verbose=False)
    moto.start()
    os.environ.clear()  # mock_aws put its own placeholder credentials in: the stack's are the same kind
    os.environ.update({k: v for k, v in env.items() if k != "AWS_ENDPOINT_URL"})  # no HTTP for our calls
    import boto3

    from devstack.provision import provision

    session = boto3.session.Session()
    provisioned = provision(session, env["OMNIHUB_STAGE"])
    os.environ["OMNIHUB_TABLE_STREAM_ARN"] = provisioned.stream_arn
    env["OMNIHUB_TABLE_STREAM_ARN"] = provisioned.stream_arn

    chalice = subprocess.Popen(  # noqa: S603 - our own venv's chalice
        [str(Path(sys.executable).parent / "chalice"), "local", "--stage", "local", "--host", "127.0.0.1",
         "--port", str(args.api_port), "--no-autoreload"],
        cwd=ROOT,
        env=env,  # the API process reaches the embedded AWS over HTTP, on the port
    )
    trimmer = _start_retention(env["OMNIHUB_STAGE"])
    sys.path.insert(0, str(ROOT))
    import app as app_module
    from devstack.pump import LocalPump, app_handlers

    pump = LocalPump(session, env["OMNIHUB_STAGE"], provisioned.stream_arn, app_handlers(app_module))

    def stop(signum: int, frame: object) -> None:
        pump.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _wait_http(f"http://127.0.0.1:{args.api_port}/health", timeout=60)
        if not args.quiet:
            print(_banner(env, args.api_port, args.aws_port), flush=True)
        print("ready", flush=True)
        pump.run_forever()
    finally:
        trimmer.set()
        chalice.terminate()
        try:
            chalice.wait(timeout=10)
        except subprocess.TimeoutExpired:
            chalice.kill()
        moto.stop()
        embedded.stop()
        sandbox.shutdown()
        print("Omnihub stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
