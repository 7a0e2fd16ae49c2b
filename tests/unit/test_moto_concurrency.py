"""The dev stack's moto answers one operation at a time, in process and through its server alike."""

from __future__ import annotations

import socket
import sys
import threading
import time

import boto3
from botocore.config import Config
from moto import mock_aws
from moto.server import ThreadedMotoServer

from devstack.moto_tuning import tune_moto


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_scan_through_the_server_while_the_process_writes_never_fails() -> None:
    """Found by make load: a Scan answered by the server's thread while the pump wrote in process failed
    with a 500 ("dictionary changed size during iteration")."""
    tune_moto()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # as devstack.run has it: threads interleave often
    port = _free_port()
    with mock_aws():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            local = boto3.client("dynamodb", region_name="us-east-1")
            local.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                               KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
            remote = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                                  aws_access_key_id="testing", aws_secret_access_key="testing",
                                  config=Config(retries={"max_attempts": 1}))
            failures: list[str] = []
            stop = threading.Event()

            def write() -> None:
                index = 0
                while not stop.is_set():
                    index += 1
                    local.put_item(TableName="t", Item={"pk": {"S": f"p{index}"}, "body": {"S": "x" * 50}})

            writer = threading.Thread(target=write)
            writer.start()
            deadline = time.monotonic() + 3
            scans = 0
            try:
                while time.monotonic() < deadline:
                    try:
                        remote.scan(TableName="t", Select="COUNT")
                    except Exception as err:
                        failures.append(type(err).__name__)
                    scans += 1
            finally:
                stop.set()
                writer.join()
            assert scans > 20 and failures == []
        finally:
            server.stop()
            sys.setswitchinterval(interval)
