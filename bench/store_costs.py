#!/usr/bin/env python3
"""bench/store_costs.py: what each statement and index of an automatic enrollment's SQLite
transaction costs (driven by bench/store-costs).

  store_costs.py prepare TEMPLATE.db VARIANT FILL OUT.db   copy, reshape, fill with FILL rows
  store_costs.py run OUT.db VARIANT N                      N enrollment transactions

`run` prints the write-ahead log frames (pages written; two pwrite64 each) per commit. The statements are scepd's (store_sqlite.c,
sq_request_issue): insert cert, insert request, audit row, COMMIT; synchronous=NORMAL as in a
group handle. The system's libsqlite3 is the one scepd links."""
import os
import secrets
import shutil
import sqlite3
import sys

# What a variant changes in schema 10, and which statements its transaction runs.
VARIANTS = {
    "empty": ([], ()),  # BEGIN IMMEDIATE and COMMIT alone, and the script's own work
    "full": ([], ("cert", "request", "audit")),
    "cert-only": ([], ("cert",)),
    "cert+request": ([], ("cert", "request")),
    "no-certs_subject": (["DROP INDEX certs_subject"], ("cert", "request", "audit")),
    "no-audit_time": (["DROP INDEX audit_time"], ("cert", "request", "audit")),
    "certs-without-rowid": (["without_rowid"], ("cert", "request", "audit")),
}

CERT_COLS = ("serial, subject, issuer, key_id, transaction_id, not_before, not_after, state, "
             "revoked_at, revocation_reason, is_ca, der")
SQL_CERT = f"INSERT INTO certs ({CERT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
SQL_REQUEST = (
    "INSERT INTO requests (transaction_id, key_id, subject, message_type, state, csr, "
    "cert_serial, reason, created_at, updated_at, challenge_hash, client_addr, challenge_kind, "
    "signer_key_id, csr_hash) VALUES (?1, ?2, ?3, ?4, ?8, ?5, ?9, '', ?6, ?6, ?7, ?10, ?11, ?12, "
    "?13) ON CONFLICT (transaction_id) DO NOTHING RETURNING id")
SQL_AUDIT = (
    "INSERT INTO audit (at, actor, action, subject, serial, transaction_id, peer)"
    " SELECT ?1, ?2, CASE r.message_type WHEN 17 THEN 'renew' ELSE 'issue' END, c.subject,"
    " c.serial, CASE WHEN instr(r.transaction_id, '~') > 0 THEN substr(r.transaction_id, 1,"
    " instr(r.transaction_id, '~') - 1) ELSE r.transaction_id END, r.client_addr"
    " FROM requests r JOIN certs c ON c.serial = r.cert_serial WHERE r.id = ?3")

def hexs(n):
    return secrets.token_hex(n).upper()


def enrollment(db, i, stmts, now=1796228348):
    serial, key_id = hexs(16), hexs(32)
    tid = f"BENCH-{hexs(8)}-{i:08d}"
    subject = f"CN=scep-bench-{hexs(4)}-{i}"
    db.execute("BEGIN IMMEDIATE")
    if "cert" in stmts:
        db.execute(SQL_CERT, (serial, subject, "CN=Count CA", key_id, tid, now, now + 86400 * 365,
                              0, 0, -1, 0, secrets.token_bytes(822)))
    rid = None
    if "request" in stmts:
        rid = db.execute(SQL_REQUEST, (tid, key_id, subject, 19, secrets.token_bytes(617), now,
                                       hexs(32), 3, serial, "127.0.0.1", "static", "",
                                       hexs(32))).fetchone()[0]
    if "audit" in stmts:
        db.execute(SQL_AUDIT, (now, "policy", rid))
    db.execute("COMMIT")


def reshape(db, variant):
    for sql in VARIANTS[variant][0]:
        if sql != "without_rowid":
            db.execute(sql)
            continue
        # The same table, its serial primary key as the table itself (no rowid, no autoindex).
        text = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'certs'").fetchone()[0]
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute(text.replace("CREATE TABLE certs", "CREATE TABLE certs_new", 1) +
                   " WITHOUT ROWID")
        db.execute("INSERT INTO certs_new SELECT * FROM certs")
        db.execute("DROP TABLE certs")
        db.execute("ALTER TABLE certs_new RENAME TO certs")
        db.execute("CREATE INDEX certs_subject ON certs (subject)")


def prepare(template, variant, fill, out):
    shutil.copyfile(template, out)
    db = sqlite3.connect(out, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")  # a fill, not a measurement
    db.execute("BEGIN")
    reshape(db, variant)
    db.execute("COMMIT")
    stmts = VARIANTS[variant][1]
    for i in range(fill):
        enrollment(db, i, stmts)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def run(path, variant, n):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stmts = VARIANTS[variant][1]
    for i in range(n):
        enrollment(db, 10_000_000 + i, stmts)
    size = os.path.getsize(path + "-wal")
    db.close()
    frames = (size - 32) / (4096 + 24) if n else 0
    print(f"frames_per_commit={frames / max(n, 1):.2f}")


def main():
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "variants":
        print(" ".join(VARIANTS))


main()
