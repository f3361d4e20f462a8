"""The local single-node Apache Kafka broker (KRaft) behind `orderhub kafka up | down | status`.

Kafka's jars come from Maven Central through ``deploy/pom.xml`` (no Docker, no tarball); the
broker runs as a detached ``java`` process whose pid, address and ports live in a JSON state
file, so later commands find it again. No Faust here: only the standard library and
kafka-python's admin client, to tell when the broker answers requests.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.errors import OrderHubError
from deploy.process import process_running, terminate

if TYPE_CHECKING:
    from contract.settings import Settings

HOST = "127.0.0.1"
POM = Path(__file__).with_name("pom.xml")
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 25
# Kafka's own start script uses 1 GiB; half of it is plenty for a laptop or a test run.
JVM_OPTS = ("-Xms256m", "-Xmx512m", "-Djava.awt.headless=true")
NO_BROKER = "no Kafka broker: run `orderhub kafka up` or set KAFKA_BOOTSTRAP_SERVERS"
INSTALL_HINTS = {
    "java": "install a JDK >= 17 (apt-get install openjdk-17-jre-headless)",
    "mvn": "install Apache Maven >= 3.8 (apt-get install maven)",
}

Progress = Callable[[str], None]


class DeployError(OrderHubError):
    """Base of the errors of ``deploy``; the message is one line a user can act on."""


class ToolMissingError(DeployError):
    """``java`` or ``mvn`` is not on PATH."""


class ClasspathError(DeployError):
    """Maven could not resolve Kafka's jars."""


class BrokerStartError(DeployError):
    """The broker could not be formatted or started, or did not become ready in time."""


class BrokerStopError(DeployError):
    """The broker process could not be signalled or did not exit."""


class NoBrokerError(DeployError):
    """Neither KAFKA_BOOTSTRAP_SERVERS nor a running local broker."""


@dataclass(frozen=True)
class BrokerState:
    """What `up` records about a running broker, as stored in the state file."""

    pid: int
    bootstrap: str
    port: int
    controller_port: int
    started_at: str
    kafka_version: str

    @classmethod
    def load(cls, path: Path) -> BrokerState | None:
        """The state in ``path``, or None when there is none."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise DeployError(f"unreadable broker state file {path}: {exc}") from exc
        try:
            return cls(**raw)
        except TypeError as exc:
            raise DeployError(f"broker state file {path} has unexpected content: {exc}") from exc

    def save(self, path: Path) -> None:
        _write_atomically(path, json.dumps(asdict(self), indent=2) + "\n")


@dataclass(frozen=True)
class ListenerSecurity:
    """How clients must talk to the broker's one client listener.

    The default is what `orderhub kafka up` runs: PLAINTEXT, nothing else. A secured broker
    (e.g. SASL_SSL with SCRAM users, for a test) names the listener's protocol, adds its
    server.properties (key stores, SASL mechanisms, the broker's own JAAS login: it talks
    to itself on this listener), extra ``kafka-storage format`` arguments (``--add-scram``
    creates SCRAM users before the first start), and the kafka-python options the readiness
    probe connects with. The controller listener stays PLAINTEXT on 127.0.0.1: clients
    never use it.
    """

    protocol: str = "PLAINTEXT"
    properties: Mapping[str, str] = field(default_factory=dict)
    format_args: tuple[str, ...] = ()
    client: Mapping[str, Any] = field(default_factory=dict)


PLAINTEXT = ListenerSecurity()


@dataclass(frozen=True)
class UpResult:
    """The outcome of `LocalKafka.up`: ``started`` is False when a broker was already up."""

    state: BrokerState
    started: bool
    ready_seconds: float


# --- pure helpers -------------------------------------------------------------------------


def server_properties(
    port: int, controller_port: int, data_dir: Path, security: ListenerSecurity = PLAINTEXT
) -> str:
    """server.properties of a single-node KRaft broker+controller on 127.0.0.1; the client
    listener is named after its protocol, and ``security.properties`` come last (they win)."""
    name = security.protocol
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"{name}://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"{name}://{HOST}:{port}",
        "listener.security.protocol.map": f"{name}:{name},CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": name,
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "min.insync.replicas": "1",
        # One member joins a fresh group at a time in tests and demos; don't wait 3 s for more.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        **security.properties,
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    return "# Written by `orderhub kafka up`; rewritten on every start.\n" + "\n".join(lines) + "\n"


def log4j_properties() -> str:
    """log4j 2 config (Kafka 4 logs through log4j 2): INFO to stdout, which `up` redirects
    into the broker's log file."""
    return (
        "status = warn\n"
        "appender.stdout.type = Console\n"
        "appender.stdout.name = STDOUT\n"
        "appender.stdout.layout.type = PatternLayout\n"
        "appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n"
        "rootLogger.level = INFO\n"
        "rootLogger.appenderRef.stdout.ref = STDOUT\n"
        # The request and state-change loggers repeat every request at INFO; keep the log short.
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
        "logger.statechange.name = state.change.logger\n"
        "logger.statechange.level = WARN\n"
    )


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format: a UUID as URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")


def pom_kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in ``pom``, so it is written down in one place only."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise DeployError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


def require_tool(name: str) -> str:
    """The path of ``name`` on PATH, or a one-line error that says what to install."""
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"{name} not found: {INSTALL_HINTS.get(name, 'install it')}")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 right now."""
    with contextlib.ExitStack() as stack:
        # Hold every socket until all are bound, so the kernel cannot hand out one port twice.
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def port_free(port: int) -> bool:
    """True when ``port`` can be bound on 127.0.0.1, as the JVM binds it (SO_REUSEADDR)."""
    with socket.socket() as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT after `down` would look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def port_answers(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (not a zombie) and looks like a Kafka broker."""
    return process_running(pid, marker=b"kafka.Kafka")


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _output_tail(done: subprocess.CompletedProcess[str]) -> str:
    """The last lines a finished command printed (stdout, then stderr), for an error."""
    return "\n".join((done.stdout + done.stderr).splitlines()[-LOG_TAIL_LINES:])


def _hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


# --- the broker ---------------------------------------------------------------------------


class LocalKafka:
    """One local broker whose files (data, logs, config, state) all live in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        pom: Path = POM,
        ready_timeout: float = READY_TIMEOUT_S,
        new_session: bool = True,
        security: ListenerSecurity = PLAINTEXT,
    ) -> None:
        """``new_session=False`` keeps the broker in the caller's process group, so a Ctrl-C
        on a test run stops it too; the CLI detaches it (the default) so it outlives `up`.
        ``security`` secures the client listener; it takes effect when the data dir is
        formatted (SCRAM users are created then), so give a secured broker its own dir."""
        self.state_dir = state_dir.resolve()
        self.pom = pom
        self.security = security
        self.ready_timeout = ready_timeout
        self.new_session = new_session
        self.state_file = self.state_dir / "broker.json"
        self.log_file = self.state_dir / "broker.log"
        self.data_dir = self.state_dir / "data"
        self.properties_file = self.state_dir / "server.properties"
        self.log4j_file = self.state_dir / "log4j2.properties"
        self.cluster_file = self.state_dir / "cluster.json"

    # public API

    def status(self) -> BrokerState | None:
        """The running broker's state, or None unless its pid is alive and its port answers."""
        state = BrokerState.load(self.state_file)
        if state is None or not pid_alive(state.pid) or not port_answers(state.port):
            return None
        return state

    def up(self, progress: Progress | None = None) -> UpResult:
        """Start the broker and wait until it serves requests; harmless when it already runs."""
        say = progress or (lambda _msg: None)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        java = require_tool("java")
        with self._lock():
            running = self.status()
            if running is not None:
                return UpResult(running, started=False, ready_seconds=0.0)
            self._forget_dead_broker()
            began = time.monotonic()
            classpath = self.classpath(say)
            port, controller_port = self._prepare_storage(java, classpath, say)
            say(f"starting Kafka on {HOST}:{port} (log: {self.log_file})")
            process = self._spawn(java, classpath)
            self._wait_ready(process, port)
            state = BrokerState(
                pid=process.pid,
                bootstrap=f"{HOST}:{port}",
                port=port,
                controller_port=controller_port,
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                kafka_version=pom_kafka_version(self.pom),
            )
            state.save(self.state_file)
            return UpResult(state, started=True, ready_seconds=time.monotonic() - began)

    def down(self, timeout: float = STOP_TIMEOUT_S) -> BrokerState | None:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` s); None if none ran.

        A state file left by a broker that died is removed too."""
        if not self.state_dir.exists():
            return None
        with self._lock():
            state = BrokerState.load(self.state_file)
            if state is None:
                return None
            alive = pid_alive(state.pid)
            if alive:
                _terminate(state.pid, timeout)
            self.state_file.unlink(missing_ok=True)
            return state if alive else None

    def classpath(self, progress: Progress | None = None) -> str:
        """Kafka's classpath, resolved by Maven once per pom.xml content and cached."""
        cache = self.state_dir / f"classpath-{_hash_file(self.pom)}.txt"
        if cache.exists():
            cached = cache.read_text(encoding="utf-8").strip()
            # A cleaned ~/.m2 leaves a cache that points at missing jars: resolve again.
            if cached and all(Path(jar).exists() for jar in cached.split(os.pathsep)):
                return cached
        mvn = require_tool("mvn")
        if progress is not None:
            progress("resolving Kafka's jars with Maven (first run only)")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        command = [
            mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(self.pom),
            "dependency:build-classpath", f"-Dmdep.outputFile={tmp}",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not tmp.exists():
            raise ClasspathError(
                f"mvn could not resolve Kafka's jars (exit {done.returncode}):\n"
                f"{_output_tail(done)}"
            )
        os.replace(tmp, cache)
        return cache.read_text(encoding="utf-8").strip()

    # steps of `up`

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Two concurrent `up`s would start two brokers on one data dir; serialise them.
        with (self.state_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _forget_dead_broker(self) -> None:
        state = BrokerState.load(self.state_file)
        if state is not None and pid_alive(state.pid):
            # Alive but not answering: a hung broker would hold the data dir's lock.
            _terminate(state.pid, STOP_TIMEOUT_S)
        self.state_file.unlink(missing_ok=True)

    def _prepare_storage(self, java: str, classpath: str, say: Progress) -> tuple[int, int]:
        """Reuse the formatted data dir when its ports are still free, else format anew."""
        saved = self._saved_ports()
        if saved is not None and all(port_free(p) for p in saved):
            port, controller_port = saved
            self._write_config(port, controller_port)
            return port, controller_port
        port, controller_port = free_ports(2)
        if saved is not None:
            say(f"ports {saved[0]}/{saved[1]} are taken: starting with a fresh, empty data dir")
        # New ports mean a new cluster: simpler and safer than rewriting a KRaft quorum's
        # recorded controller endpoint. Local data is disposable.
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.cluster_file.unlink(missing_ok=True)
        self._write_config(port, controller_port)
        self._format(java, classpath)
        info = {"port": port, "controller_port": controller_port}
        _write_atomically(self.cluster_file, json.dumps(info) + "\n")
        return port, controller_port

    def _saved_ports(self) -> tuple[int, int] | None:
        if not self.cluster_file.exists() or not (self.data_dir / "meta.properties").exists():
            return None
        try:
            info = json.loads(self.cluster_file.read_text(encoding="utf-8"))
            return int(info["port"]), int(info["controller_port"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DeployError(
                f"unreadable {self.cluster_file} ({exc}); remove {self.state_dir} to start afresh"
            ) from exc

    def _write_config(self, port: int, controller_port: int) -> None:
        self.properties_file.write_text(
            server_properties(port, controller_port, self.data_dir, self.security),
            encoding="utf-8",
        )
        self.log4j_file.write_text(log4j_properties(), encoding="utf-8")

    def _java_command(self, java: str, classpath: str, main: str) -> list[str]:
        log4j = f"-Dlog4j2.configurationFile={self.log4j_file}"
        return [java, *JVM_OPTS, log4j, "-cp", classpath, main]

    def _format(self, java: str, classpath: str) -> None:
        command = self._java_command(java, classpath, "kafka.tools.StorageTool")
        # `--cluster-id=ID` in one word: a base64 id may start with '-', which argparse
        # would otherwise read as an option (1 format in 64 failed that way).
        command += ["format", f"--cluster-id={new_cluster_id()}", "-c", str(self.properties_file)]
        command.append("--ignore-formatted")
        command += self.security.format_args
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerStartError(f"formatting {self.data_dir} failed:\n{_output_tail(done)}")

    def _spawn(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        command = self._java_command(java, classpath, "kafka.Kafka")
        command.append(str(self.properties_file))
        with self.log_file.open("wb") as log:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=self.new_session,
            )

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                raise BrokerStartError(
                    f"Kafka exited with code {code} while starting; "
                    f"last lines of {self.log_file}:\n{log_tail(self.log_file)}"
                )
            if port_answers(port) and answers_requests(f"{HOST}:{port}", self.security.client):
                return
            time.sleep(0.2)
        _terminate(process.pid, STOP_TIMEOUT_S)
        raise BrokerStartError(
            f"Kafka did not become ready within {self.ready_timeout:.0f} s; "
            f"last lines of {self.log_file}:\n{log_tail(self.log_file)}"
        )


def answers_requests(bootstrap: str, client: Mapping[str, Any] | None = None) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request (lists topics);
    ``client`` holds kafka-python's security options for a secured listener."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConfigurationError, KafkaError

    # kafka-python renamed its bootstrap timeout across major versions; pass what it knows.
    wanted = {"bootstrap_timeout_ms": 2000, "api_version_auto_timeout_ms": 2000}
    known = KafkaAdminClient.DEFAULT_CONFIG
    options = {key: value for key, value in wanted.items() if key in known}
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=5000, **options, **(client or {})
        )
    except KafkaConfigurationError:
        raise  # a bug on our side, not a broker that is still starting
    except KafkaError:
        return False
    try:
        admin.list_topics()
    except KafkaError:
        return False
    finally:
        admin.close()
    return True


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid`` (a controlled shutdown), SIGKILL it if it outlives ``timeout`` s."""
    try:
        gone = terminate(pid, timeout, pid_alive)
    except PermissionError as exc:
        raise BrokerStopError(f"not allowed to stop the Kafka process {pid}: {exc}") from exc
    if not gone:
        raise BrokerStopError(f"the Kafka process {pid} did not exit after SIGKILL")


# --- for other commands -------------------------------------------------------------------


def default_state_dir(settings: Settings) -> Path:
    """Where `orderhub kafka up` keeps the local broker: ``<home>/kafka``."""
    return settings.home / "kafka"


def bootstrap_servers(settings: Settings) -> str:
    """The Kafka address to use: KAFKA_BOOTSTRAP_SERVERS, else the running local broker's."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    state = LocalKafka(default_state_dir(settings)).status()
    if state is None:
        raise NoBrokerError(NO_BROKER)
    return state.bootstrap
