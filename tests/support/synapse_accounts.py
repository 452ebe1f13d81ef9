"""New accounts on a test-stack Synapse through its shared-secret registration API
(`/_synapse/admin/v1/register`), for the tests and the benchmarks."""
import hashlib
import hmac

import requests


def register(hs, localpart, password, admin=False):
    """Registers `localpart` on homeserver `hs` (a stack.json entry), a server administrator if
    `admin`; returns Synapse's answer (`user_id`, `access_token`, `device_id`)."""
    url = f"{hs['base_url']}/_synapse/admin/v1/register"
    nonce = requests.get(url, timeout=10).json()["nonce"]
    mac = hmac.new(hs["registration_shared_secret"].encode(), digestmod=hashlib.sha1)
    kind = b"admin" if admin else b"notadmin"
    mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), kind]))
    r = requests.post(url, json={"nonce": nonce, "username": localpart, "password": password,
                                 "admin": admin, "mac": mac.hexdigest()}, timeout=10)
    r.raise_for_status()
    return r.json()
