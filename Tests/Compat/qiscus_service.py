#!/usr/bin/env python3
"""A merchant's service written for Qiscus Multichannel, as such services are
written: it receives the custom agent allocation webhook, decodes it strictly
(candidate_agent.id an integer, room_id converted with int()), signs in with
POST /api/v1/auth (a form), sends the token raw (`Authorization: <token>`)
with Qiscus-App-Id, lists agents, picks one and assigns them with a form body.
It also receives the resolve and new-session webhooks and reads the fields
consumers read. Everything it saw is served at GET /state for the test.

Usage: qiscus_service.py BASE_URL APP_ID EMAIL PASSWORD SECRET
Prints the port it listens on (127.0.0.1), then serves until killed.
"""
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE, APP_ID, EMAIL, PASSWORD, SECRET = sys.argv[1:6]
state = {"allocations": [], "assignments": [], "resolved": [], "sessions": [], "errors": []}
lock = threading.Lock()
token = {"value": None}


def call(method, path, form=None, body=None, raw_token=True):
    headers = {"Qiscus-App-Id": APP_ID}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if raw_token and token["value"]:
        headers["Authorization"] = token["value"]  # raw, as the hosted product takes it
    request = urllib.request.Request(BASE + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sign_in():
    status, answer = call("POST", "/api/v1/auth", form={"email": EMAIL, "password": PASSWORD}, raw_token=False)
    if status != 200:
        raise RuntimeError(f"sign-in answered {status}: {answer}")
    user = answer["data"]["user"]
    if not isinstance(user["id"], int) or not isinstance(user["type"], int):
        raise RuntimeError(f"user ids and types must be integers: {user}")
    token["value"] = user["authentication_token"]


def strict_allocation(payload):
    """What a typed decoder does: wrong types fail."""
    for key in ("app_id", "source", "email", "name", "avatar_url", "extras", "room_id", "channel_id"):
        if not isinstance(payload.get(key), str):
            raise ValueError(f"{key} must be a string: {payload.get(key)!r}")
    for key in ("is_new_session", "is_resolved"):
        if not isinstance(payload.get(key), bool):
            raise ValueError(f"{key} must be a boolean")
    room_id = int(payload["room_id"])  # services convert the decimal string
    json.loads(payload["extras"])  # a JSON-encoded string
    candidate = payload.get("candidate_agent")
    if candidate is not None:
        if not isinstance(candidate.get("id"), int) or not isinstance(candidate.get("is_available"), bool):
            raise ValueError(f"candidate_agent must carry an integer id: {candidate!r}")
        for key in ("email", "name", "type_as_string", "created_at"):
            if not isinstance(candidate.get(key), str):
                raise ValueError(f"candidate_agent.{key} must be a string")
        if not isinstance(candidate.get("type"), int) or not isinstance(candidate.get("current_customer_count"), int):
            raise ValueError("candidate_agent.type and current_customer_count must be integers")
    latest = payload.get("latest_service")
    if latest is not None:
        int(latest["room_id"])
        if not isinstance(latest["id"], int):
            raise ValueError("latest_service.id must be an integer")
    return room_id


def allocate(payload):
    try:
        room_id = strict_allocation(payload)
        if not token["value"]:
            sign_in()
        status, agents = call("GET", "/api/v2/admin/agents?limit=100&page=1")
        if status != 200:
            raise RuntimeError(f"agents answered {status}: {agents}")
        candidates = [a for a in agents["data"]["agents"]
                      if a["type_as_string"] == "agent" and a["is_available"] and isinstance(a["id"], int)]
        if not candidates:
            raise RuntimeError("no available agent listed")
        chosen = min(candidates, key=lambda a: (a["current_customer_count"], a["id"]))
        status, answer = call("POST", "/api/v1/admin/service/assign_agent",
                              form={"room_id": room_id, "agent_id": chosen["id"]})
        with lock:
            state["assignments"].append({"room_id": room_id, "agent_id": chosen["id"], "status": status,
                                         "added_agent_id": (answer.get("data") or {}).get("added_agent", {}).get("id")})
    except Exception as e:  # recorded for the test to see
        with lock:
            state["errors"].append(f"allocation: {e}")


def strict_resolved(payload):
    service, customer, resolved_by = payload["service"], payload["customer"], payload["resolved_by"]
    record = {
        "room_id": int(service["room_id"]),
        "source": service["source"],
        "notes": service["notes"],
        "user_id": customer["user_id"],
        "additional_info": {i["key"]: i["value"] for i in customer["additional_info"]},
        "resolved_by_email": resolved_by["email"],
        "resolved_by_id": resolved_by["id"],
        "service_id": service["id"],
        "last_comment_id": service["last_comment_id"],
    }
    if not isinstance(record["resolved_by_id"], int) or not isinstance(record["service_id"], int):
        raise ValueError("resolved_by.id and service.id must be integers")
    if service["is_resolved"] is not True or not isinstance(customer["user_id"], str):
        raise ValueError("service.is_resolved must be true and customer.user_id a string")
    int(service["last_comment_id"])
    return record


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/state":
            with lock:
                self.answer(200, state)
        else:
            self.answer(404, {})

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/allocate":
            if query.get("secret") != [SECRET]:  # the URL was registered with its query
                self.answer(401, {"error": "bad secret"})
                return
            with lock:
                state["allocations"].append(payload)
            self.answer(200, {"ok": True})
            threading.Thread(target=allocate, args=(payload,), daemon=True).start()
        elif url.path == "/resolved":
            try:
                record = strict_resolved(payload)
                with lock:
                    state["resolved"].append(record)
            except Exception as e:
                with lock:
                    state["errors"].append(f"resolved: {e}: {payload}")
            self.answer(200, {"ok": True})
        elif url.path == "/new-session":
            room = payload["payload"]["room"]
            with lock:
                state["sessions"].append({"id": int(room["id"]), "id_str": room["id_str"], "new": payload["is_new_session"]})
            self.answer(200, {"ok": True})
        else:
            self.answer(404, {})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
