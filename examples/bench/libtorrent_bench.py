# The libtorrent-rasterbar side of examples/bench, run with /usr/bin/python3.
# It speaks the same line protocol as bench's own children:
#   seed  TORRENT DATADIR         prints "listening PORT" once the data is
#                                 checked, serves until stdin closes
#   leech TORRENT DATADIR PEER    prints "done NANOSECONDS" once complete
# Settings follow /work/shared/INTEROP.md: loopback, TCP only, plaintext,
# no DHT, LSD, UPnP, NAT-PMP or trackers.
import os, sys, threading, time
import libtorrent as lt

role, tor, save = sys.argv[1], sys.argv[2], sys.argv[3]
limit = time.time() + 1800

s = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "dht_bootstrap_nodes": "",
    "allow_multiple_connections_per_ip": True, "ssrf_mitigation": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "out_enc_policy": lt.enc_policy.disabled, "in_enc_policy": lt.enc_policy.disabled,
    "allowed_enc_level": lt.enc_level.plaintext,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
})

def add():
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tor)
    atp.save_path = save
    atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    h = s.add_torrent(atp)
    h.replace_trackers([])
    return h

def errors():
    for a in s.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
            sys.exit("libtorrent: " + a.message())
        if isinstance(a, lt.torrent_finished_alert):
            return True
    return False

if role == "seed":
    h = add()
    while not h.status().is_seeding:
        if time.time() > limit:
            sys.exit("libtorrent: seed check timed out")
        s.wait_for_alert(100)
        errors()
    print("listening", s.listen_port(), flush=True)
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    while not closed.is_set() and time.time() < limit:
        s.wait_for_alert(200)
        errors()
elif role == "leech":
    host, port = sys.argv[4].rsplit(":", 1)
    start = time.monotonic_ns()
    h = add()
    h.connect_peer((host, int(port)))
    while not h.status().is_seeding:
        if time.time() > limit:
            sys.exit("libtorrent: download timed out")
        s.wait_for_alert(100)
        if errors():
            break
    while not h.status().is_seeding:
        s.wait_for_alert(20)
        errors()
    print("done", time.monotonic_ns() - start, flush=True)
else:
    sys.exit("libtorrent: unknown role " + role)
