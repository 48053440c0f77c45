#!/usr/bin/env python3
"""Send one customer message to an Omnichat custom channel (contract v1).

Signs the body as docs/custom-channel.md says and POSTs it to
<base>/webhooks/<channel>. Standard library only.

  python3 send.py --channel acme --secret "$ACME_SECRET" --user cust-42 --name "Ann Lee" "Hi, where is my order?"
  python3 send.py --channel acme --secret "$ACME_SECRET" --user cust-42 --type image --url https://example.com/a.png "my receipt"
  python3 send.py --channel acme --secret "$ACME_SECRET" --user cust-42 --type postback --payload track "Track it"

Prints Omnichat's answer; exits 0 on 2xx, 1 otherwise.
"""
import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="?", help="the message text (the caption for media)")
    parser.add_argument("--channel", required=True, help="the channel id (its drop-in's id)")
    parser.add_argument("--secret", required=True, help="the channel's secret")
    parser.add_argument("--user", default="cust-42", help="the customer's id on your side (default: cust-42)")
    parser.add_argument("--name", help="the customer's display name")
    parser.add_argument("--type", default="text",
                        help="text, image, audio, video, file, location, sticker, contact, postback (default: text)")
    parser.add_argument("--url", help="the media URL (image, audio, video, file, sticker)")
    parser.add_argument("--payload", help="the tapped button's payload (postback)")
    parser.add_argument("--event-id", help="the event id (default: a new UUID); send the same one again to see dedupe")
    parser.add_argument("--base", default="http://127.0.0.1:8080", help="Omnichat's base URL (default: http://127.0.0.1:8080)")
    args = parser.parse_args()

    message = {"type": args.type}
    if args.text is not None:
        message["text"] = args.text
    if args.url is not None:
        message["url"] = args.url
    if args.payload is not None:
        message["payload"] = args.payload
    user = {"id": args.user}
    if args.name:
        user["name"] = args.name
    event = {"event_id": args.event_id or str(uuid.uuid4()), "user": user, "message": message}

    # The signature covers these exact bytes: serialize once, send what was signed.
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        f"{args.base.rstrip('/')}/webhooks/{args.channel}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Omnichat-Timestamp": timestamp,
            "X-Omnichat-Signature": sign(args.secret, timestamp, body),
        },
    )
    print(f"event_id {event['event_id']}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status, response.read().decode("utf-8", "replace"))
            return 0
    except urllib.error.HTTPError as error:
        # 400 bad_request, 401 bad_signature, 404 not_found, 413 too_large, 503 unavailable
        print(error.code, error.read().decode("utf-8", "replace"), file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"could not reach Omnichat: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
