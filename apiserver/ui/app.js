/* jobspool status page: reads /healthz and /metrics (no token) and the
 * job listing (the token typed in, kept in sessionStorage for this browser
 * session); everything a job says is shown as text (textContent). */
"use strict";
(function () {
	var KEY = "jobspool.token";
	function $(id) { return document.getElementById(id); }
	function token() { return sessionStorage.getItem(KEY) || ""; }
	function el(tag, text, cls) {
		var e = document.createElement(tag);
		if (text !== undefined && text !== null) e.textContent = String(text);
		if (cls) e.className = cls;
		return e;
	}
	function row(cells, classes) {
		var tr = document.createElement("tr");
		cells.forEach(function (c, i) {
			if (classes && classes[i] === "id") {
				/* a job id opens its panel */
				var td = el("td", null, "id"), a = el("a", c, "job");
				a.addEventListener("click", function () { openJob(String(c)); });
				td.appendChild(a);
				tr.appendChild(td);
			} else {
				tr.appendChild(el("td", c, classes && classes[i]));
			}
		});
		return tr;
	}
	var current = null;	/* the job whose panel is open */
	function send(method, path) {
		var h = {};
		if (token()) h.Authorization = "Bearer " + token();
		return fetch(path, { method: method, headers: h }).then(function (r) {
			return r.json().catch(function () { return {}; }).then(function (b) {
				if (!r.ok) throw new Error(b.error || ("HTTP " + r.status));
				return b;
			});
		});
	}
	function showJob() {
		if (!current) return Promise.resolve();
		var id = current, base = "/api/v1/jobs/" + encodeURIComponent(id);
		return Promise.all([
			get(base + "?peek=1", true).then(function (r) {
				if (!r.ok) throw new Error("job " + id + ": HTTP " + r.status);
				return r.json();
			}),
			get(base + "/log?tail=200", true).then(function (r) { return r.ok ? r.text() : ""; })
		]).then(function (v) {
			if (current !== id) return;
			var j = v[0], rows = [];
			["status", "name", "description", "created_at", "started_at", "finished_at",
			 "attempts", "exit_code", "signal", "error", "worker", "labels", "owner"].forEach(function (k) {
				if (j[k] !== undefined && j[k] !== null)
					rows.push(row([k, typeof j[k] === "object" ? JSON.stringify(j[k]) : j[k]]));
			});
			if (j.waiting) rows.push(row(["waiting", j.waiting.message || j.waiting.reason]));
			fill("jobfields", rows, "");
			$("joblog").textContent = v[1];
			var fin = ["completed", "failed", "cancelled", "retrieved"].indexOf(j.status) >= 0;
			$("jobcancel").hidden = fin;
			$("jobrerun").hidden = !fin;
		});
	}
	function openJob(id) {
		current = id;
		$("jobid").textContent = id;
		$("jobmsg").textContent = "";
		$("jobpanel").hidden = false;
		showJob().catch(function (e) { showError(String(e.message || e)); });
	}
	function fill(id, rows, empty) {
		var tb = $(id);
		while (tb.firstChild) tb.removeChild(tb.firstChild);
		if (rows.length === 0) {
			var tr = row([empty]);
			tr.firstChild.colSpan = 5;
			tb.appendChild(tr);
		}
		rows.forEach(function (r) { tb.appendChild(r); });
	}
	function human(s) {
		if (s === null || s === undefined || isNaN(s)) return "–";
		if (s < 1) return Math.round(s * 1000) + "ms";
		if (s < 60) return (Math.floor(s * 10) / 10) + "s";
		if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
		if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
		return Math.floor(s / 86400) + "d" + String(Math.floor(s % 86400 / 3600)).padStart(2, "0") + "h";
	}
	function ago(iso) {
		if (!iso) return "–";
		var t = Date.parse(iso);
		return isNaN(t) ? String(iso) : human((Date.now() - t) / 1000) + " ago";
	}
	function showError(msg) {
		var e = $("error");
		e.textContent = msg || "";
		e.hidden = !msg;
	}
	function get(path, auth) {
		var h = {};
		if (auth && token()) h.Authorization = "Bearer " + token();
		return fetch(path, { headers: h, cache: "no-store" }).then(function (r) {
			if (r.status === 401) throw new Error("the token is missing or wrong: type it above");
			return r;
		});
	}
	function health() {
		return get("/healthz").then(function (r) { return r.json(); }).then(function (h) {
			var p = $("health");
			var bad = h.status !== "ok" || h.stalled > 0;
			p.textContent = h.status !== "ok" ? "unavailable: " + (h.error || "") :
			    h.stalled > 0 ? h.stalled + " stalled" : "ok";
			p.className = "pill " + (bad ? "bad" : "ok");
			$("stalled").textContent = h.stalled === undefined ? "–" : h.stalled;
			var pz = h.paused || {};
			$("paused").textContent = pz.spool ? "the whole spool" :
			    (pz.labels && pz.labels.length ? "labels " + pz.labels.join(", ") : "nothing");
			var list = (h.processors && h.processors.list) || [];
			fill("procs", list.map(function (x) {
				return row([x.id, (x.labels || []).join(", ") || "(any)",
				    x.slots, x.running, ago(x.last_seen || x.updated_at)], ["mono"]);
			}), "no live processor: pending jobs will wait");
		});
	}
	function metrics() {
		return get("/metrics").then(function (r) { return r.text(); }).then(function (t) {
			var c = $("counts");
			while (c.firstChild) c.removeChild(c.firstChild);
			t.split("\n").forEach(function (l) {
				var m = /^jobspool_jobs\{state="([a-z]+)"\} ([0-9]+)/.exec(l);
				if (m) {
					var d = el("div", null, "card st-" + m[1]);
					d.appendChild(el("b", m[2]));
					d.appendChild(el("span", m[1]));
					c.appendChild(d);
				}
				var o = /^jobspool_oldest_pending_job_age_seconds ([0-9.]+)/.exec(l);
				if (o) $("oldest").textContent = +o[1] > 0 ? human(+o[1]) : "none pending";
			});
		});
	}
	function jobs() {
		return Promise.all([
			get("/api/v1/jobs?status=pending&limit=50", true).then(function (r) { return r.json(); }),
			get("/api/v1/jobs?limit=25" + ($("filter").value ? "&status=" +
			    encodeURIComponent($("filter").value) : ""), true).then(function (r) { return r.json(); })
		]).then(function (v) {
			fill("pending", (v[0].jobs || []).map(function (j) {
				var w = j.waiting || {};
				return row([j.id, j.name || "", ago(j.created_at), w.message || w.reason || "–"], ["id"]);
			}), "no pending job");
			fill("recent", (v[1].jobs || []).map(function (j) {
				var ex = j.signal !== null && j.signal !== undefined ? "signal " + j.signal :
				    (j.exit_code === null || j.exit_code === undefined ? "" : j.exit_code);
				return row([j.id, j.name || "", j.status, ex, ago(j.finished_at)],
				    ["id", null, "st-" + j.status]);
			}), "no job");
		});
	}
	function refresh() {
		Promise.all([health(), metrics(), jobs(), showJob()]).then(function () {
			showError("");
			$("updated").textContent = "updated " + new Date().toLocaleTimeString();
		}).catch(function (e) { showError(String(e.message || e)); });
	}
	document.addEventListener("DOMContentLoaded", function () {
		/* a link may carry the token in its fragment (never sent to the
		 * server): #token=SECRET is kept and taken out of the address */
		var h = location.hash.slice(1).split("&"), job = null;
		h.forEach(function (kv) {
			if (kv.indexOf("token=") === 0)
				sessionStorage.setItem(KEY, decodeURIComponent(kv.slice(6)));
			if (kv.indexOf("job=") === 0)
				job = decodeURIComponent(kv.slice(4));
		});
		if (location.hash.indexOf("token=") >= 0)
			history.replaceState(null, "", location.pathname + (job ? "#job=" + encodeURIComponent(job) : ""));
		if (job) openJob(job);
		$("jobclose").addEventListener("click", function () {
			current = null;
			$("jobpanel").hidden = true;
		});
		$("jobcancel").addEventListener("click", function () {
			send("DELETE", "/api/v1/jobs/" + encodeURIComponent(current)).then(function () {
				$("jobmsg").textContent = "cancel requested";
				return showJob();
			}).catch(function (e) { $("jobmsg").textContent = String(e.message || e); });
		});
		$("jobrerun").addEventListener("click", function () {
			send("POST", "/api/v1/jobs/" + encodeURIComponent(current) + "/rerun").then(function (b) {
				$("jobmsg").textContent = "re-run as " + (b.id || "?");
				if (b.id) openJob(b.id);
			}).catch(function (e) { $("jobmsg").textContent = String(e.message || e); });
		});
		$("filter").addEventListener("change", refresh);
		$("login").addEventListener("submit", function (ev) {
			ev.preventDefault();
			sessionStorage.setItem(KEY, $("token").value);
			$("token").value = "";
			refresh();
		});
		$("logout").addEventListener("click", function () {
			sessionStorage.removeItem(KEY);
			refresh();
		});
		refresh();
		setInterval(refresh, 3000);
	});
})();
