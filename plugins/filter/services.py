"""Filters of the services model (``stack_services``, issue 13 stage 2).

``service_slot_addresses``  each extra service's fixed edge addresses, by slot
``service_locations``       nginx's location blocks of the extra services, longest first
``service_problems``        what is wrong with a model, each naming its variable

The address scheme: services sorted by name; the n-th (from 0) gets
``<prefix>.(20 + 2n)`` for blue and ``<prefix>.(21 + 2n)`` for green on the edge
network (nginx is .2, the app's slots .11 and .12). At most 117 services fit a /24.
"""

from __future__ import annotations

import re

DOCUMENTATION = r"""
name: service_slot_addresses
short_description: Fixed edge-network addresses of each extra service's release slots
description:
  - Services sorted by name; the n-th gets <prefix>.(20+2n) (blue) and <prefix>.(21+2n) (green).
positional: _input, prefix
options:
  _input:
    description: The services model (stack_services).
    type: dict
    required: true
  prefix:
    description: The first three octets of the edge subnet, e.g. 172.30.80.
    type: str
    required: true
"""

FIRST_HOST = 20
MAX_SERVICES = (254 - FIRST_HOST) // 2
NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
RESERVED = ("app", "db", "redis", "nginx", "migrate")
_SLOT_SUFFIXES = ("-blue", "-green", "-migrate")
# Exact locations the embedded app always answers (health, release verification, metrics).
APP_EXACT = ("/healthz", "/readyz", "/version", "/metrics")
# Prefix locations the app holds when it serves `/` (today's site config).
APP_ROOT_PREFIXES = ("/api/", "/api/v1/auth/")
PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
RATE = re.compile(r"^[0-9]+r/[sm]$")


def service_slot_addresses(services: dict | None, prefix: str) -> dict[str, dict[str, str]]:
    names = sorted(services or {})
    return {
        name: {
            "blue": f"{prefix}.{FIRST_HOST + 2 * n}",
            "green": f"{prefix}.{FIRST_HOST + 2 * n + 1}",
        }
        for n, name in enumerate(names)
    }


def nginx_name(service: str) -> str:
    """The service name as it appears in nginx names and variables (- is not allowed)."""
    return service.replace("-", "_")


def service_locations(services: dict | None) -> list[dict]:
    """One entry per route of every extra service, longest prefix first (then by path)."""
    out = []
    for name in sorted(services or {}):
        for n, route in enumerate((services or {})[name].get("routes") or []):
            rate = route.get("rate") or ""
            out.append(
                {
                    "service": name,
                    "var": nginx_name(name),
                    "path": route["path"],
                    "websocket": bool(route.get("websocket", False)),
                    "client_max_body_size": route.get("client_max_body_size") or "",
                    "rate": rate,
                    "burst": int(route.get("burst", 20)),
                    "zone": f"vmstack_{nginx_name(name)}_{n}" if rate else "",
                }
            )
    return sorted(out, key=lambda loc: (-len(loc["path"]), loc["path"]))


AUTH = "/api/v1/auth/"


def app_covers_auth(app_routes: list | None) -> bool:
    """Whether one of the app's routes is a prefix of its rate-limited auth endpoints."""
    return any(AUTH.startswith(path) for path in app_routes or [])


def service_routes(
    services: dict | None, app_routes: list | None, static_paths: list | None = None
) -> list[dict]:
    """Every route location besides the app's fixed ones, longest prefix first.

    With "/" among the app's routes, the app's fixed locations are today's site
    config ("/", /api/, /api/v1/auth/, the static paths); without it only the
    rate-limited /api/v1/auth/ when a route covers it. Entries of the app have
    service "app"."""
    app_routes = list(app_routes or [])
    if "/" in app_routes:
        fixed = ["/", "/api/", AUTH, *(static_paths or [])]
    else:
        fixed = [AUTH] if app_covers_auth(app_routes) else []
    app = [
        {
            "service": "app",
            "var": "",
            "path": path,
            "websocket": False,
            "client_max_body_size": "",
            "rate": "",
            "burst": 0,
            "zone": "",
        }
        for path in app_routes
        if path not in fixed
    ]
    return sorted(
        app + service_locations(services), key=lambda loc: (-len(loc["path"]), loc["path"])
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def service_problems(
    services: dict | None, app_routes: list | None, static_paths: list | None = None
) -> list[str]:
    """Everything wrong with the model, each message naming the variable.

    app_routes is nginx_app_routes; static_paths nginx_gzip_static_paths (the app's
    own locations while it serves /)."""
    problems: list[str] = []
    services = services or {}
    app_routes = list(app_routes or [])
    app_at_root = "/" in app_routes
    if not isinstance(services, dict):
        return ["stack_services must be a dict: service name -> its settings."]
    if len(services) > MAX_SERVICES:
        problems.append(
            f"stack_services holds {len(services)} services; at most {MAX_SERVICES} fit."
        )
    for n, path in enumerate(app_routes):
        if not isinstance(path, str) or not PATH.match(path):
            problems.append(
                f"nginx_app_routes[{n}] ({path!r}) must be a path prefix starting with /."
            )
    seen: dict[str, str] = {
        path: "nginx_app_routes" for path in app_routes if isinstance(path, str)
    }
    if len(seen) != len(app_routes):
        problems.append(f"nginx_app_routes ({app_routes}) lists a prefix twice.")
    # The app's fixed locations: nothing else may claim them as a prefix location.
    taken = dict.fromkeys(APP_EXACT, "the embedded app")
    if app_at_root:
        fixed = [*APP_ROOT_PREFIXES, *(static_paths or [])]
        taken.update(dict.fromkeys(fixed, "the embedded app (it serves /)"))
    for name in sorted(services):
        var = f"stack_services.{name}"
        svc = services[name]
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(
                f"{var}: the name must be lower-case letters, digits and -, starting with a letter"
                " (at most 30 characters)."
            )
        if name in RESERVED or (isinstance(name, str) and name.endswith(_SLOT_SUFFIXES)):
            problems.append(
                f"{var}: the name is taken ({', '.join(RESERVED)} and names ending in"
                " -blue, -green or -migrate are the stack's own)."
            )
        if not isinstance(svc, dict):
            problems.append(f"{var} must be a dict of the service's settings.")
            continue
        if not _is_int(svc.get("port")) or not 1 <= svc["port"] <= 65535:
            problems.append(f"{var}.port ({svc.get('port')!r}) must be a port number, 1-65535.")
        health = svc.get("health_path", "/healthz")
        if not isinstance(health, str) or not PATH.match(health):
            problems.append(f"{var}.health_path ({health!r}) must be a path starting with /.")
        delivery = svc.get("delivery", "pull")
        if delivery == "archive" and not svc.get("archive"):
            problems.append(f"{var}.archive must name the image archive when delivery is archive.")
        if delivery == "build" and not svc.get("build"):
            problems.append(f"{var}.build must name the build directory when delivery is build.")
        for key in ("env", "secrets"):
            for k, v in (svc.get(key) or {}).items():
                if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(k)):
                    problems.append(f"{var}.{key}.{k}: the name must be letters, digits and _.")
                if ("'" in str(v) or "\n" in str(v)) and key == "env":
                    problems.append(
                        f"{var}.env.{k}: the value holds a single quote or a newline"
                        " (the env file holds each value in single quotes)."
                    )
        routes = svc.get("routes") or []
        if not routes:
            problems.append(f"{var}.routes must list at least one route (nginx reaches it there).")
        for n, route in enumerate(routes):
            rvar = f"{var}.routes[{n}]"
            if not isinstance(route, dict):
                problems.append(f"{rvar} must be a dict with at least path.")
                continue
            path = route.get("path")
            if not isinstance(path, str) or not PATH.match(path):
                problems.append(f"{rvar}.path ({path!r}) must be a path prefix starting with /.")
                continue
            if path in taken or path in seen:
                owner = taken.get(path) or seen.get(path)
                problems.append(f"{rvar}.path ({path}) is already routed to {owner}.")
            else:
                seen[path] = var
            size = route.get("client_max_body_size")
            if size not in (None, "") and not SIZE.match(str(size)):
                problems.append(
                    f"{rvar}.client_max_body_size ({size!r}) must be a size such as 10m or 512k."
                )
            rate = route.get("rate")
            if rate not in (None, "") and not RATE.match(str(rate)):
                problems.append(f"{rvar}.rate ({rate!r}) must be a rate such as 10r/s or 30r/m.")
    return problems


def service_secret_dirs(services: dict | None, secrets_dir: str) -> list[dict]:
    """secrets/<name> (root's, the wanted files) and secrets/<name>-<slot> (the service's uid)."""
    out = []
    for name in sorted(services or {}):
        uid = int((services or {})[name].get("uid", 10001))
        out.append({"path": f"{secrets_dir}/{name}", "owner": 0})
        out += [
            {"path": f"{secrets_dir}/{name}-{slot}", "owner": uid} for slot in ("blue", "green")
        ]
    return out


def service_secret_items(services: dict | None) -> list[dict]:
    """Every secret of every service: {service, name, value}."""
    return [
        {"service": name, "name": key, "value": value}
        for name in sorted(services or {})
        for key, value in sorted(((services or {})[name].get("secrets") or {}).items())
    ]


def service_stale_files(
    find_results: list, services: dict | None, wanted: dict | None = None
) -> list[str]:
    """Paths found (ansible.builtin.find results looped over service names, item = name)
    that the service's secrets no longer list. `wanted` adds names kept anyway."""
    gone = []
    for found in find_results or []:
        name = found.get("item")
        keep = set(((services or {}).get(name) or {}).get("secrets") or {}) | set(
            (wanted or {}).get(name, [])
        )
        gone += [
            f["path"] for f in found.get("files", []) if f["path"].rsplit("/", 1)[-1] not in keep
        ]
    return sorted(gone)


def _retired_name(path: object, services: dict | None, form: str) -> str | None:
    """The service name in file `path` of the form `form` ({} stands for the name) when
    that name could be a service's (NAME, none of the stack's own) and is not a key of
    `services`; otherwise None."""
    prefix, _, suffix = form.partition("{}")
    base = str(path).rsplit("/", 1)[-1]
    if len(base) <= len(prefix) + len(suffix):
        return None
    if not (base.startswith(prefix) and base.endswith(suffix)):
        return None
    name = base[len(prefix) : len(base) - len(suffix)]
    if not NAME.match(name) or name in RESERVED or name.endswith(_SLOT_SUFFIXES):
        return None
    return None if name in (services or {}) else name


def service_retired_files(
    paths: list | None, services: dict | None, form: str = "{}.env"
) -> list[str]:
    """The paths, among `paths`, of files that belong to an extra service the model no
    longer declares (_retired_name): e.g. "{}.env" in the project directory,
    "release-{}.json" beside the release file, "vmstack-upstream-{}.inc" in nginx's conf.d."""
    return sorted(str(p) for p in paths or [] if _retired_name(p, services, form))


def service_retired(paths: list | None, services: dict | None, form: str = "{}.env") -> list[str]:
    """The names of the extra services those files (service_retired_files) belong to."""
    return sorted({n for p in paths or [] if (n := _retired_name(p, services, form))})


def service_wanted(services: dict | None, service: str = "", version: str = "") -> dict[str, dict]:
    """What each service should run: {image, version, archive}; `version` overrides the
    model's for `service` (deploy.yml -e vmstack_service=<name> -e vmstack_version=<v>)."""
    out = {}
    for name in sorted(services or {}):
        svc = (services or {})[name]
        ver = (
            str(version) if (service == name and version not in (None, "")) else str(svc["version"])
        )
        out[name] = {
            "image": f"{svc['image']}:{ver}",
            "version": ver,
            "archive": str(svc.get("archive") or "").replace("{version}", ver),
        }
    return out


def _slot_services(name: str) -> tuple[str, ...]:
    return (f"{name}-blue", f"{name}-green", f"{name}-migrate")


def service_strip_compose(compose: dict, services: dict | None) -> dict:
    """compose.yaml without the extra services' definitions (what the app runs with)."""
    drop = {s for name in (services or {}) for s in _slot_services(name)}
    out = dict(compose or {})
    out["services"] = {k: v for k, v in (out.get("services") or {}).items() if k not in drop}
    return out


def service_compose_part(compose: dict, name: str) -> dict:
    """One extra service's definitions in compose.yaml (its slots and its migrate)."""
    services = (compose or {}).get("services") or {}
    return {k: services[k] for k in _slot_services(name) if k in services}


def compose_images(compose: dict) -> list[str]:
    """Every image compose.yaml names."""
    services = (compose or {}).get("services") or {}
    return sorted(
        {str(v.get("image")) for v in services.values() if isinstance(v, dict) and v.get("image")}
    )


def service_states(slurp_results: list, wanted: dict) -> dict[str, dict]:
    """Each service's release state from slurp results (looped over the names) of
    release-<name>.json; a service without one: its wanted release in both slots, blue live."""
    import base64
    import json

    out = {}
    for result in slurp_results or []:
        name = result.get("item")
        fresh = {"image": wanted[name]["image"], "version": wanted[name]["version"]}
        state: dict = {}
        if result.get("content"):
            try:
                state = json.loads(base64.b64decode(result["content"]))
            except ValueError:
                state = {}
        state.setdefault("active", "blue")
        state.setdefault("slots", {"blue": dict(fresh), "green": dict(fresh)})
        out[name] = state
    return out


def service_state_field(states: dict, field: str) -> dict:
    return {name: state.get(field) for name, state in (states or {}).items()}


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {
            "service_slot_addresses": service_slot_addresses,
            "service_locations": service_locations,
            "service_routes": service_routes,
            "service_app_covers_auth": app_covers_auth,
            "service_problems": service_problems,
            "service_nginx_name": nginx_name,
            "service_secret_dirs": service_secret_dirs,
            "service_wanted": service_wanted,
            "service_states": service_states,
            "service_state_field": service_state_field,
            "service_strip_compose": service_strip_compose,
            "service_compose_part": service_compose_part,
            "service_compose_images": compose_images,
            "service_secret_items": service_secret_items,
            "service_stale_files": service_stale_files,
            "service_retired_files": service_retired_files,
            "service_retired": service_retired,
        }
