/// The status page at `/`: one self-contained HTML document (inline CSS and script, no external
/// assets) that polls `/status` every 1.5 s and shows the members and leader, the clients with
/// their mailboxes, and each client pair's path. Read-only; it builds its tables with DOM text
/// nodes, never HTML from the data.
enum StatusPage {
    /// Inline style and script only; requests only to this origin.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'"

    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>p2pcore status</title>
    <style>
    :root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff; }
    header { display: flex; align-items: center; gap: 16px; padding: 14px 24px; background: #24292f; color: #fff; }
    header h1 { font-size: 18px; margin: 0; font-weight: 600; }
    header .meta { color: #c9d1d9; font-size: 13px; }
    main { padding: 16px 24px; display: grid; gap: 20px; }
    section { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
    section h2 { margin: 0; padding: 8px 12px; font-size: 14px; background: var(--bg); border-bottom: 1px solid var(--line); }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid var(--line); white-space: nowrap; }
    th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
    tr:last-child td { border-bottom: none; }
    code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
    .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
    .ok, .leader, .direct { background: var(--ok); }
    .bad, .unreachable { background: var(--bad); }
    .relay, .candidate, .preCandidate { background: var(--warn); }
    .follower, .learner { background: #0969da; }
    .muted { color: var(--muted); }
    #error { color: var(--bad); font-weight: 600; }
    .summary { display: flex; gap: 24px; flex-wrap: wrap; }
    .summary div { padding: 10px 14px; border: 1px solid var(--line); border-radius: 8px; min-width: 150px; }
    .summary b { display: block; font-size: 20px; }
    </style>
    </head>
    <body>
    <header>
      <h1>p2pcore</h1>
      <span id="health" class="badge">…</span>
      <span class="meta" id="server">connecting…</span>
      <span class="meta" id="updated"></span>
      <span id="error"></span>
    </header>
    <main>
      <div class="summary">
        <div><span class="muted">Leader</span><b id="leader">–</b></div>
        <div><span class="muted">Members</span><b id="members">–</b></div>
        <div><span class="muted">Clients</span><b id="clientCount">–</b></div>
        <div><span class="muted">Relayed messages</span><b id="relayed">–</b></div>
        <div><span class="muted">Queued in mailboxes</span><b id="queued">–</b></div>
      </div>
      <section><h2>Cluster members</h2>
        <table><thead><tr><th>Server</th><th>Address</th><th>Role</th><th>Voter</th><th>Term</th><th>Commit</th><th>Applied</th><th>Relayed</th></tr></thead>
        <tbody id="servers"></tbody></table></section>
      <section><h2>Client pairs and their paths</h2>
        <table><thead><tr><th>Client</th><th>Peer</th><th>Path</th><th>Via</th><th>RTT</th><th>Known from</th></tr></thead>
        <tbody id="pairs"></tbody></table></section>
      <section><h2>Clients</h2>
        <table><thead><tr><th>Client</th><th>Online</th><th>NAT</th><th>Attached servers</th><th>Mailbox</th><th>Oldest</th><th>Direct to</th><th>Relayed to</th></tr></thead>
        <tbody id="clients"></tbody></table></section>
      <p id="problems" class="muted"></p>
    </main>
    <script>
    "use strict";
    const short = (id) => id ? String(id).slice(0, 8) : "–";
    function cell(text, className, title) {
      const td = document.createElement("td");
      if (className) {
        const span = document.createElement("span");
        span.className = "badge " + className;
        span.textContent = text;
        td.appendChild(span);
      } else {
        const code = document.createElement("code");
        code.textContent = text;
        td.appendChild(code);
      }
      if (title) td.title = title;
      return td;
    }
    function fill(id, rows) {
      const body = document.getElementById(id);
      body.replaceChildren(...rows);
      if (rows.length === 0) {
        const tr = document.createElement("tr");
        const td = document.createElement("td");
        td.colSpan = 8; td.className = "muted"; td.textContent = "none";
        tr.appendChild(td); body.appendChild(tr);
      }
    }
    function row(cells, data) {
      const tr = document.createElement("tr");
      for (const key in (data || {})) tr.dataset[key] = data[key];
      tr.append(...cells);
      return tr;
    }
    function render(s) {
      document.getElementById("health").textContent = s.readiness.ready ? "ready" : "not ready";
      document.getElementById("health").className = "badge " + (s.readiness.ready ? "ok" : "bad");
      document.getElementById("health").title = s.readiness.reason;
      document.getElementById("server").textContent = "server " + s.server;
      document.getElementById("updated").textContent = "updated " + new Date(s.generatedAtMillis).toLocaleTimeString();
      document.getElementById("leader").textContent = short(s.leader);
      document.getElementById("members").textContent = s.servers.length;
      document.getElementById("clientCount").textContent = s.clients.length;
      document.getElementById("relayed").textContent = s.relayedMessages;
      document.getElementById("queued").textContent = s.clients.reduce((n, c) => n + c.mailboxMessages, 0);
      fill("servers", s.servers.map((m) => row([
        cell(short(m.id) + (m.id === s.server ? " (this)" : ""), null, m.id), cell(m.address),
        cell(m.reachable ? m.role : "unreachable", m.reachable ? m.role : "unreachable"), cell(m.voter ? "yes" : "no"),
        cell(m.reachable ? String(m.term) : "–"), cell(m.reachable ? String(m.commitIndex) : "–"),
        cell(m.reachable ? String(m.appliedIndex) : "–"), cell(String(m.relayedMessages)),
      ], { server: m.id, role: m.role })));
      fill("pairs", s.pairs.map((p) => row([
        cell(short(p.a), null, p.a), cell(short(p.b), null, p.b), cell(p.path, p.path), cell(p.kind || "–"),
        cell(p.rttMillis != null ? p.rttMillis.toFixed(1) + " ms" : "–"), cell(p.source),
      ], { pair: p.a + "|" + p.b, path: p.path })));
      const nat = {};
      for (const c of (s.paths ? s.paths.clients : [])) nat[c.client] = c;
      const now = Date.now();
      fill("clients", s.clients.map((c) => row([
        cell(short(c.id), null, c.id), cell(c.online ? "online" : "offline", c.online ? "ok" : "bad"),
        cell(nat[c.id] ? nat[c.id].behaviour : "–", null, nat[c.id] ? nat[c.id].explanation : ""),
        cell(c.attachedServers.map(short).join(", ") || "–"),
        cell(c.mailboxMessages + " msg / " + c.mailboxBytes + " B"),
        cell(c.oldestMessageMillis ? Math.max(0, Math.round((now - c.oldestMessageMillis) / 1000)) + " s" : "–"),
        cell(c.directPeers.map(short).join(", ") || "–"), cell((c.relayedPeers || []).map(short).join(", ") || "–"),
      ], { client: c.id })));
      document.getElementById("problems").textContent = s.problems.length ? "Problems: " + s.problems.join("; ") : "";
    }
    async function poll() {
      try {
        // Not relative to location.href: a page opened as http://user:secret@host/ would then
        // fetch a URL with credentials in it, which browsers refuse.
        const url = new URL("status", location.origin + location.pathname);
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (!response.ok) throw new Error("HTTP " + response.status + " " + (await response.text()));
        render(await response.json());
        document.getElementById("error").textContent = "";
      } catch (error) {
        document.getElementById("error").textContent = String(error.message || error);
      }
    }
    poll();
    setInterval(poll, 1500);
    </script>
    </body>
    </html>
    """
}
