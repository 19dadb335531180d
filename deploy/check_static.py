#!/usr/bin/env python3
"""Static checks for deploy/: Dockerfiles, compose.yaml, Kubernetes manifests, secrets.

Standard library only. YAML files are parsed and checked in depth when PyYAML
happens to be importable; without it those parts fall back to plain-text checks
(and say so). Exits 1 with one line per problem, 0 with a summary line.

    python3 deploy/check_static.py            # from the repository root, or anywhere
    python3 deploy/check_static.py --no-yaml  # force the plain-text fallback
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEPLOY = Path(__file__).resolve().parent
GRPC_SERVICES = {"points": 50051, "lists": 50052, "audit": 50053, "talent": 50054}
GATEWAY_PORT = 8000
# Files git ignores (deploy/.gitignore): local secrets, never committed, never scanned.
LOCAL_ONLY = {DEPLOY / ".env", DEPLOY / "k8s" / "secret.yaml"}


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.passed = 0
        self.notes: list[str] = []

    def check(self, ok: bool, where: Path | str, message: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.problems.append(f"FAIL {rel(where)}: {message}")
        return ok

    def note(self, message: str) -> None:
        self.notes.append(message)


def rel(path: Path | str) -> str:
    if isinstance(path, Path):
        try:
            return str(path.relative_to(DEPLOY.parent))
        except ValueError:
            return str(path)
    return path


# --------------------------------------------------------------------- Dockerfiles


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    out: list[tuple[str, str]] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
        current = ""
    if current.strip():
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def check_dockerfile(path: Path, report: Report) -> None:
    instructions = dockerfile_instructions(path.read_text(encoding="utf-8"))
    froms = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    report.check(len(froms) >= 2, path, f"expected a multi-stage build (>= 2 FROM), found {len(froms)}")
    final = instructions[froms[-1] :] if froms else instructions

    users = [args.split(":")[0].strip() for word, args in final if word == "USER"]
    report.check(bool(users), path, "final stage has no USER instruction (would run as root)")
    if users:
        report.check(
            users[-1] not in {"root", "0", ""},
            path,
            f"final stage runs as {users[-1]!r}; use a non-root user",
        )

    runs = [args for word, args in instructions if word == "RUN"]
    syncs = [r for r in runs if re.search(r"\buv\s+sync\b", r)]
    report.check(bool(syncs), path, "no `uv sync` step")
    for sync in syncs:
        command = sync[sync.index("uv sync") :] if "uv sync" in sync else sync
        report.check("--frozen" in sync, path, f"`uv sync` without --frozen: {command}")
        report.check("--no-dev" in sync, path, f"`uv sync` without --no-dev: {command}")
    report.check(
        any(re.search(r"pip install\b.*\buv==\d+\.\d+\.\d+", r) for r in runs),
        path,
        "uv must be installed from PyPI with a pinned version (pip install uv==X.Y.Z)",
    )
    report.check(
        any(word == "COPY" and "--from=builder" in args for word, args in final),
        path,
        "final stage should copy the venv from the builder stage",
    )
    entrypoints = [args for word, args in final if word == "ENTRYPOINT"]
    report.check(
        bool(entrypoints) and entrypoints[-1].startswith("["),
        path,
        "final stage needs an exec-form ENTRYPOINT (signals reach the process directly)",
    )
    report.check(any(word == "EXPOSE" for word, _ in final), path, "final stage has no EXPOSE")
    if path.name.endswith(".gateway"):
        report.check(
            any(word == "HEALTHCHECK" and "/healthz" in args for word, args in final),
            path,
            "gateway image should have a HEALTHCHECK on /healthz",
        )
    ignore = path.with_name(path.name + ".dockerignore")
    report.check(ignore.is_file(), ignore, "missing Dockerfile-specific .dockerignore")


# ------------------------------------------------------------------ secrets scan

SECRET_NAMES = re.compile(
    r"(?<![\w${])(SHANZHI_JWT_SECRET|POSTGRES_PASSWORD|[A-Z]+_DB_PASSWORD)\b[\"']?\s*[:=]\s*(.*)$"
)
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^:/@\s\"']+:(\$\{[^}]*\}|[^@/\s\"']+)@")
PLACEHOLDER = re.compile(r"REPLACE_ME|CHANGE_ME|<[^>]+>|\.\.\.|…|example", re.IGNORECASE)


def is_reference(value: str) -> bool:
    """True when a value names a secret instead of holding one."""
    value = value.strip().strip("\"'").strip()
    return (
        value == ""
        or value.startswith("$")  # ${VAR...}, $VAR, $(command)
        or value.startswith("#")  # nothing but a comment after the key
        or bool(PLACEHOLDER.search(value))
    )


def scanned_lines(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8", errors="replace")
    in_code = path.suffix != ".md"  # Markdown: only fenced code blocks hold config
    for number, line in enumerate(text.splitlines(), 1):
        if path.suffix == ".md" and line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            yield number, line


def check_secrets(report: Report) -> None:
    me = Path(__file__).resolve()
    files = [
        p
        for p in sorted(DEPLOY.rglob("*"))
        if p.is_file() and p.resolve() != me and p not in LOCAL_ONLY and "__pycache__" not in p.parts
    ]
    found = 0
    for path in files:
        for number, line in scanned_lines(path):
            where = f"{rel(path)}:{number}"
            match = SECRET_NAMES.search(line)
            if match and not is_reference(match.group(2)):
                found += 1
                report.check(
                    False, where, f"{match.group(1)} has a literal value; use a reference or a placeholder"
                )
            for url in URL_PASSWORD.finditer(line):
                if not is_reference(url.group(1)):
                    found += 1
                    report.check(
                        False, where, "URL with a literal password; use ${VAR} or a REPLACE_ME placeholder"
                    )
            if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", line):
                found += 1
                report.check(False, where, "private key committed")
    report.check(found == 0, "deploy/", f"{found} committed secret value(s)")


# ---------------------------------------------------------------------- YAML (deep)


def env_map(environment: Any) -> dict[str, str]:
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    out: dict[str, str] = {}
    for item in environment or []:
        key, _, value = str(item).partition("=")
        out[key] = value
    return out


def check_compose_yaml(yaml: Any, report: Report) -> None:
    path = DEPLOY / "compose.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    services = data.get("services", {}) if isinstance(data, dict) else {}
    expected = {"postgres", "kafka", "otel-collector", "gateway", *GRPC_SERVICES}
    missing = expected - set(services)
    report.check(not missing, path, f"missing services: {sorted(missing)}")
    for infra in ("postgres", "kafka"):
        report.check("healthcheck" in services.get(infra, {}), path, f"{infra} needs a healthcheck")
    report.check(
        str(services.get("kafka", {}).get("image", "")).startswith("apache/kafka:"),
        path,
        "kafka should run the apache/kafka image",
    )
    report.check(
        str(services.get("postgres", {}).get("image", "")).startswith("postgres:16"),
        path,
        "postgres should run PostgreSQL 16",
    )
    for name, port in GRPC_SERVICES.items():
        svc = services.get(name, {})
        deps = svc.get("depends_on", {})
        for infra in ("postgres", "kafka"):
            cond = deps.get(infra, {}).get("condition") if isinstance(deps, dict) else None
            report.check(
                cond == "service_healthy", path, f"{name}: depends_on {infra} must be service_healthy"
            )
        env = env_map(svc.get("environment"))
        report.check(
            env.get("SHANZHI_GRPC_PORT") == str(port), path, f"{name}: SHANZHI_GRPC_PORT should be {port}"
        )
        report.check(
            env.get("SHANZHI_GRPC_HOST") == "0.0.0.0", path, f"{name}: SHANZHI_GRPC_HOST should be 0.0.0.0"
        )
        report.check(
            env.get("SHANZHI_DATABASE_URL", "").startswith(f"postgresql+asyncpg://{name}:")
            and env.get("SHANZHI_DATABASE_URL", "").endswith(f"/{name}"),
            path,
            f"{name}: SHANZHI_DATABASE_URL should use asyncpg, role {name} and database {name}",
        )
        report.check(
            env.get("SHANZHI_KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092",
            path,
            f"{name}: SHANZHI_KAFKA_BOOTSTRAP_SERVERS should be kafka:9092",
        )
        report.check(
            env.get("SHANZHI_MIGRATE_ON_START") == "true",
            path,
            f"{name}: SHANZHI_MIGRATE_ON_START should be true",
        )
        report.check(
            env.get("SHANZHI_JWT_SECRET", "").startswith("${SHANZHI_JWT_SECRET:?"),
            path,
            f"{name}: SHANZHI_JWT_SECRET must be required from the environment (${{…:?…}})",
        )
        report.check(
            env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4317",
            path,
            f"{name}: OTEL_EXPORTER_OTLP_ENDPOINT should be http://otel-collector:4317",
        )
        report.check(
            env.get("OTEL_SERVICE_NAME") == f"shanzhi.{name}",
            path,
            f"{name}: OTEL_SERVICE_NAME should be shanzhi.{name}",
        )
        build = svc.get("build", {})
        args = env_map(build.get("args")) if isinstance(build, dict) else {}
        report.check(
            args.get("SERVICE") == name and args.get("GRPC_PORT") == str(port),
            path,
            f"{name}: build args SERVICE/GRPC_PORT should be {name}/{port}",
        )
    gateway = env_map(services.get("gateway", {}).get("environment"))
    for name, port in GRPC_SERVICES.items():
        key = f"SHANZHI_GATEWAY_{name.upper()}_ADDR"
        report.check(gateway.get(key) == f"{name}:{port}", path, f"gateway: {key} should be {name}:{port}")
    report.check(gateway.get("SHANZHI_GATEWAY_GRAPHIQL") == "false", path, "gateway: GraphiQL must be off")
    report.check(
        gateway.get("SHANZHI_GATEWAY_KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092",
        path,
        "gateway: SHANZHI_GATEWAY_KAFKA_BOOTSTRAP_SERVERS should be kafka:9092 (subscriptions)",
    )
    report.check(
        gateway.get("SHANZHI_JWT_SECRET", "").startswith("${SHANZHI_JWT_SECRET:?"),
        path,
        "gateway: SHANZHI_JWT_SECRET must be required from the environment",
    )
    for mount in services.get("postgres", {}).get("volumes", []):
        source = str(mount).split(":")[0]
        if source.startswith("."):
            report.check((DEPLOY / source).exists(), path, f"postgres mounts missing file {source}")
    for mount in services.get("otel-collector", {}).get("volumes", []):
        source = str(mount).split(":")[0]
        if source.startswith("."):
            report.check((DEPLOY / source).exists(), path, f"otel-collector mounts missing file {source}")


def check_collector_yaml(yaml: Any, report: Report) -> None:
    path = DEPLOY / "otel" / "collector.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    grpc = (((data or {}).get("receivers") or {}).get("otlp") or {}).get("protocols", {}).get("grpc") or {}
    report.check(
        str(grpc.get("endpoint", "")).endswith(":4317"), path, "OTLP gRPC receiver should listen on 4317"
    )
    pipelines = ((data or {}).get("service") or {}).get("pipelines") or {}
    for signal in ("traces", "metrics"):
        pipeline = pipelines.get(signal) or {}
        for section, component, wanted in (("receivers", "otlp", "needs the otlp receiver"),
                                           ("processors", "batch", "needs the batch processor"),
                                           ("exporters", "debug", "should export to debug")):
            report.check(component in pipeline.get(section, []), path, f"{signal} pipeline {wanted}")
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                report.check(
                    component in (data.get(section) or {}),
                    path,
                    f"{signal} pipeline uses undefined {section[:-1]} {component}",
                )


def probe_port(probe: Any, kind: str) -> Any:
    if not isinstance(probe, dict) or not isinstance(probe.get(kind), dict):
        return None
    return probe[kind].get("port")


def check_k8s_yaml(yaml: Any, report: Report) -> None:
    k8s = DEPLOY / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text(encoding="utf-8"))
    resources = kustomization.get("resources", [])
    for resource in resources:
        report.check((k8s / resource).is_file(), k8s / "kustomization.yaml", f"lists missing file {resource}")
    listed = set(resources) | {"kustomization.yaml", "secret.example.yaml", "secret.yaml"}
    for manifest in sorted(k8s.glob("*.yaml")):
        report.check(manifest.name in listed, k8s / "kustomization.yaml", f"{manifest.name} is not listed")
    report.check(
        "secret.example.yaml" not in resources,
        k8s / "kustomization.yaml",
        "secret.example.yaml holds placeholders and must not be applied by kustomize",
    )

    deployments: dict[str, tuple[Path, dict[str, Any]]] = {}
    kinds: dict[str, set[str]] = {}
    for manifest in sorted(k8s.glob("*.yaml")):
        if manifest.name == "secret.yaml":
            continue
        for doc in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
            if not doc:
                continue
            kind = doc.get("kind", "")
            name = doc.get("metadata", {}).get("name", "")
            kinds.setdefault(kind, set()).add(name)
            if kind not in ("Kustomization",):
                report.check(
                    doc.get("metadata", {}).get("namespace") == "shanzhi" or kind == "Namespace",
                    manifest,
                    f"{kind}/{name} should be in namespace shanzhi",
                )
            if kind == "Deployment":
                deployments[name] = (manifest, doc)
            if kind == "Secret" and manifest.name == "secret.example.yaml":
                for key, value in (doc.get("stringData") or {}).items():
                    report.check(
                        "REPLACE_ME" in str(value), manifest, f"{name}.{key} must be a REPLACE_ME placeholder"
                    )

    report.check("shanzhi" in kinds.get("Namespace", set()), k8s, "no Namespace shanzhi")
    report.check(bool(kinds.get("ConfigMap")), k8s, "no ConfigMap with common settings")
    report.check(bool(kinds.get("Ingress")), k8s, "no Ingress example")
    for name in [*GRPC_SERVICES, "gateway"]:
        report.check(name in deployments, k8s, f"no Deployment {name}")
        report.check(name in kinds.get("Service", set()), k8s, f"no Service {name}")

    for name, (manifest, doc) in deployments.items():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        report.check(spec.get("replicas") == 2, manifest, f"{name}: expected 2 replicas")
        report.check(
            pod.get("terminationGracePeriodSeconds") == 30,
            manifest,
            f"{name}: terminationGracePeriodSeconds should be 30",
        )
        report.check(
            pod.get("securityContext", {}).get("runAsNonRoot") is True,
            manifest,
            f"{name}: pod securityContext.runAsNonRoot must be true",
        )
        for container in pod.get("containers", []):
            cname = f"{name}/{container.get('name')}"
            sc = container.get("securityContext", {})
            report.check(
                sc.get("readOnlyRootFilesystem") is True,
                manifest,
                f"{cname}: readOnlyRootFilesystem must be true",
            )
            report.check(
                sc.get("allowPrivilegeEscalation") is False,
                manifest,
                f"{cname}: allowPrivilegeEscalation must be false",
            )
            resources_ = container.get("resources", {})
            for section in ("requests", "limits"):
                report.check(
                    {"cpu", "memory"} <= set(resources_.get(section, {})),
                    manifest,
                    f"{cname}: resources.{section} needs cpu and memory",
                )
            env_from = container.get("envFrom", [])
            report.check(
                any("configMapRef" in e for e in env_from), manifest, f"{cname}: envFrom needs the ConfigMap"
            )
            secret_refs = {e["secretRef"]["name"] for e in env_from if "secretRef" in e}
            report.check(
                "shanzhi-auth" in secret_refs, manifest, f"{cname}: envFrom needs Secret shanzhi-auth"
            )
            ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
            if name in GRPC_SERVICES or "grpc" in ports:
                port = ports.get("grpc")
                report.check(
                    port == GRPC_SERVICES.get(name, port),
                    manifest,
                    f"{cname}: grpc port should be {GRPC_SERVICES.get(name)}",
                )
                report.check(
                    f"shanzhi-{name}-db" in secret_refs,
                    manifest,
                    f"{cname}: envFrom needs Secret shanzhi-{name}-db",
                )
                for probe in ("readinessProbe", "livenessProbe"):
                    report.check(
                        probe_port(container.get(probe), "grpc") == port,
                        manifest,
                        f"{cname}: {probe} must be a native grpc probe on port {port}",
                    )
            else:
                for probe in ("readinessProbe", "livenessProbe"):
                    http = (container.get(probe) or {}).get("httpGet") or {}
                    report.check(
                        http.get("path") == "/healthz", manifest, f"{cname}: {probe} must GET /healthz"
                    )


# ------------------------------------------------------------- YAML (text fallback)


def yaml_documents(path: Path) -> list[str]:
    return re.split(r"(?m)^---\s*$", path.read_text(encoding="utf-8"))


def check_k8s_text(report: Report) -> None:
    """Without PyYAML: each gRPC Deployment still must carry grpc readiness and liveness probes."""
    k8s = DEPLOY / "k8s"
    seen: set[str] = set()
    for manifest in sorted(k8s.glob("*.yaml")):
        for doc in yaml_documents(manifest):
            if not re.search(r"(?m)^kind:\s*Deployment\s*$", doc):
                continue
            name_match = re.search(r"(?m)^metadata:\s*\n(?:\s+.*\n)*?\s+name:\s*(\S+)", doc)
            name = name_match.group(1) if name_match else "?"
            seen.add(name)
            if name not in GRPC_SERVICES and "name: grpc" not in doc:
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                block = re.search(rf"(?m)^(\s*){probe}:\s*\n((?:\1\s+.*\n)+)", doc)
                report.check(
                    bool(block and re.search(r"(?m)^\s+grpc:\s*$", block.group(2))),
                    manifest,
                    f"{name}: {probe} must be a native grpc probe",
                )
            report.check(
                "readOnlyRootFilesystem: true" in doc,
                manifest,
                f"{name}: readOnlyRootFilesystem must be true",
            )
            report.check("runAsNonRoot: true" in doc, manifest, f"{name}: runAsNonRoot must be true")
    for name in GRPC_SERVICES:
        report.check(name in seen, k8s, f"no Deployment {name}")


def check_compose_text(report: Report) -> None:
    path = DEPLOY / "compose.yaml"
    text = path.read_text(encoding="utf-8")
    report.check(
        "${SHANZHI_JWT_SECRET:?" in text, path, "SHANZHI_JWT_SECRET must be required from the environment"
    )
    report.check(
        text.count("condition: service_healthy") >= 2,
        path,
        "services must wait for healthy postgres and kafka",
    )
    for name in GRPC_SERVICES:
        report.check(f"postgresql+asyncpg://{name}:" in text, path, f"{name}: no asyncpg database URL")


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-yaml", action="store_true", help="skip PyYAML even when it is importable")
    args = parser.parse_args(argv)
    report = Report()

    dockerfiles = sorted(
        p for p in (DEPLOY / "docker").glob("Dockerfile.*") if not p.name.endswith(".dockerignore")
    )
    report.check(
        {p.name for p in dockerfiles} >= {"Dockerfile.service", "Dockerfile.gateway"},
        DEPLOY / "docker",
        "expected Dockerfile.service and Dockerfile.gateway",
    )
    for dockerfile in dockerfiles:
        check_dockerfile(dockerfile, report)

    check_secrets(report)

    yaml: Any = None
    if not args.no_yaml:
        try:
            yaml = importlib.import_module("yaml")
        except ImportError:
            yaml = None
    if yaml is not None:
        parsed = True
        for path in [
            DEPLOY / "compose.yaml",
            DEPLOY / "otel" / "collector.yaml",
            *sorted((DEPLOY / "k8s").glob("*.yaml")),
        ]:
            if path in LOCAL_ONLY:
                continue
            try:
                list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
                report.check(True, path, "")
            except yaml.YAMLError as exc:
                parsed = report.check(False, path, f"invalid YAML: {exc}") and parsed
        if parsed:
            check_compose_yaml(yaml, report)
            check_collector_yaml(yaml, report)
            check_k8s_yaml(yaml, report)
    else:
        report.note("PyYAML is not importable: YAML validity and deep checks skipped; plain-text checks only")
        check_compose_text(report)
        check_k8s_text(report)

    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(problem)
    if report.problems:
        print(f"check_static: {report.passed} passed, {len(report.problems)} failed")
        return 1
    print(f"check_static: {report.passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
