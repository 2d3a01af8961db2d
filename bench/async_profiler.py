"""async-profiler attached to a running JVM (Keycloak): where its CPU goes, as an HTML flame graph.

The library comes from Maven Central (`tools.profiler:async-profiler`, whose jar carries the native
libraries), fetched once through Maven like Keycloak itself, and is loaded into the JVM with `jcmd`'s
`JVMTI.agent_load`: nothing has to be set when Keycloak starts, so the measurements before the
profile run on a JVM without it.
"""

import platform
import subprocess
import zipfile
from contextlib import contextmanager
from pathlib import Path

VERSION = "4.1"
ARTIFACT = f"tools.profiler:async-profiler:{VERSION}"
CACHE = Path.home() / ".cache" / "identity-backend" / f"async-profiler-{VERSION}"


def library() -> Path:
    """libasyncProfiler.so for this machine, downloaded once."""
    target = CACHE / "libasyncProfiler.so"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    jar = CACHE / f"async-profiler-{VERSION}.jar"
    if not jar.exists():
        fetched = subprocess.run(["mvn", "-B", "-q", "-Dstyle.color=never", "dependency:copy",
                                  f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={CACHE}"],
                                 cwd=CACHE, capture_output=True, text=True)
        if fetched.returncode or not jar.exists():
            raise SystemExit(f"could not fetch {ARTIFACT} through Maven:\n{fetched.stdout[-2000:]}")
    arch = {"x86_64": "linux-x64", "aarch64": "linux-arm64"}[platform.machine()]
    with zipfile.ZipFile(jar) as archive:
        target.write_bytes(archive.read(f"{arch}/libasyncProfiler.so"))
    return target


def jcmd(pid: int, command: str) -> str:
    """`jcmd` of the JDK that runs `pid` (its attach protocol is that JVM's)."""
    java = Path(f"/proc/{pid}/exe").resolve()
    if java.name != "java":
        raise SystemExit(f"process {pid} is {java}, not a JVM")
    done = subprocess.run([str(java.with_name("jcmd")), str(pid), command],
                          capture_output=True, text=True, timeout=60)
    if done.returncode or "error" in done.stdout.lower():
        raise SystemExit(f"jcmd {pid} {command}: {done.stdout[-1000:]}{done.stderr[-1000:]}")
    return done.stdout


@contextmanager
def profiling(pid: int, output: Path, event: str = "cpu", interval: str = "5ms"):
    """Samples the JVM `pid` for the block; writes the flame graph `output` (HTML) at its end."""
    agent = library()
    jcmd(pid, f'JVMTI.agent_load {agent} "start,event={event},interval={interval}"')
    try:
        yield
    finally:
        jcmd(pid, f'JVMTI.agent_load {agent} "stop,file={output}"')
