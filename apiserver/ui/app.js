/* jobspool status page.  Reads /healthz and /metrics (no token) and the
 * JSON API with the token typed in (kept in sessionStorage for this
 * browser session, sent as "Authorization: Bearer").  The view lives in
 * the address's fragment, so reload and Back work:
 *   #status=failed&name=N&label=L&limit=25&after=CURSOR&prev=C1,C2
 *                                                  the job list
 *   #job=ID                                                  a job's page
 * A job's log is followed with a streaming fetch (?follow=1&outcome=1),
 * read as it arrives and stopped when the job ends or the page is left.
 * Everything a job says is shown as text (textContent), never as HTML. */
"use strict";
(function () {
	var KEY = "jobspool.token", TAIL = 500, FINAL = ["completed", "failed",
	    "cancelled", "retrieved"];
	var view = {};		/* the parsed fragment */
	var page = { next: null };	/* the list page shown */
	var job = null;		/* the job page's job (JSON), or null */
	var log = null;		/* the log stream: {id, ctl, tail, ...} */
	var flash = "";		/* a message for the next job page */

	function $(id) { return document.getElementById(id); }
	function token() { return sessionStorage.getItem(KEY) || ""; }
	function el(tag, text, cls) {
		var e = document.createElement(tag);
		if (text !== undefined && text !== null) e.textContent = String(text);
		if (cls) e.className = cls;
		return e;
	}
	function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
	function isFinal(st) { return FINAL.indexOf(st) >= 0; }
	function errText(e) { return String((e && e.message) || e); }

	/* ---- HTTP ---- */
	function headers(extra) {
		var h = extra || {};
		if (token()) h.Authorization = "Bearer " + token();
		return h;
	}
	function get(path, auth) {
		return fetch(path, { headers: auth ? headers() : {}, cache: "no-store" })
		    .then(function (r) {
			if (r.status === 401)
				throw new Error(token() ? "the token is missing or wrong: type it above" :
				    "type an API token above to see the jobs");
			return r;
		});
	}
	/* A JSON answer, or an Error with the server's message. */
	function json(r) {
		return r.json().catch(function () { return {}; }).then(function (b) {
			if (!r.ok) throw new Error(b.error || ("HTTP " + r.status));
			return b;
		});
	}
	function send(method, path, body) {
		var o = { method: method, cache: "no-store",
		    headers: headers(body ? { "Content-Type": "application/json" } : {}) };
		if (body) o.body = JSON.stringify(body);
		return fetch(path, o).then(json);
	}
	function jobPath(id) { return "/api/v1/jobs/" + encodeURIComponent(id); }

	/* ---- time ---- */
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
		return isNaN(t) ? String(iso) : human(Math.max(0, Date.now() - t) / 1000) + " ago";
	}
	function span(a, b) {
		var x = Date.parse(a), y = b ? Date.parse(b) : Date.now();
		return isNaN(x) || isNaN(y) ? null : Math.max(0, y - x) / 1000;
	}

	/* ---- the fragment ---- */
	function parseHash() {
		var p = new URLSearchParams(location.hash.slice(1)), v = {};
		if (p.has("token")) {
			/* a link may carry the token (a fragment is never sent):
			 * kept, and taken out of the address */
			sessionStorage.setItem(KEY, p.get("token"));
			p.delete("token");
			history.replaceState(null, "", location.pathname +
			    (p.toString() ? "#" + p.toString() : ""));
		}
		v.job = p.get("job") || "";
		v.status = p.get("status") || "";
		v.name = p.get("name") || "";
		v.label = p.get("label") || "";
		v.limit = /^[0-9]+$/.test(p.get("limit") || "") ? p.get("limit") : "25";
		v.after = p.get("after") || "";
		v.prev = p.get("prev") ? p.get("prev").split(",") : [];
		return v;
	}
	function listHash(v) {
		var p = new URLSearchParams();
		if (v.status) p.set("status", v.status);
		if (v.name) p.set("name", v.name);
		if (v.label) p.set("label", v.label);
		if (v.limit !== "25") p.set("limit", v.limit);
		if (v.after) p.set("after", v.after);
		if (v.prev.length) p.set("prev", v.prev.join(","));
		return "#" + p.toString();
	}
	function go(hash) {
		if (location.hash === hash || (hash === "#" && !location.hash)) render();
		else location.hash = hash;
	}

	function showError(msg) {
		$("error").textContent = msg || "";
		$("error").hidden = !msg;
	}

	/* ---- the overview ---- */
	function health() {
		return get("/healthz").then(function (r) { return r.json(); }).then(function (h) {
			var p = $("health"), bad = h.status !== "ok" || h.stalled > 0;
			p.textContent = h.status !== "ok" ? "unavailable: " + (h.error || "") :
			    h.stalled > 0 ? h.stalled + " stalled" : "ok";
			p.className = "pill " + (bad ? "bad" : "ok");
			$("stalled").textContent = h.stalled === undefined ? "–" : h.stalled;
			var pz = h.paused || {};
			$("paused").textContent = pz.spool ? "the whole spool" :
			    (pz.labels && pz.labels.length ? "labels " + pz.labels.join(", ") : "nothing");
			var list = (h.processors && h.processors.list) || [], tb = $("procs");
			clear(tb);
			list.forEach(function (x) {
				tb.appendChild(row([x.id, (x.labels || []).join(", ") || "(any)",
				    x.slots, x.running === null || x.running === undefined ? "–" : x.running,
				    ago(x.last_seen || x.updated_at)], ["mono"]));
			});
			if (!list.length)
				tb.appendChild(emptyRow("no live processor: pending jobs will wait", 5));
		});
	}
	function metrics() {
		return get("/metrics").then(function (r) { return r.text(); }).then(function (t) {
			var c = $("counts");
			clear(c);
			t.split("\n").forEach(function (l) {
				var m = /^jobspool_jobs\{state="([a-z]+)"\} ([0-9]+)/.exec(l);
				if (m) {
					var d = el("a", null, "card st-" + m[1]);
					d.href = listHash({ status: m[1], name: "", label: "",
					    limit: view.limit || "25", after: "", prev: [] });
					d.appendChild(el("b", m[2]));
					d.appendChild(el("span", m[1]));
					c.appendChild(d);
				}
				var o = /^jobspool_oldest_pending_job_age_seconds ([0-9.]+)/.exec(l);
				if (o) $("oldest").textContent = +o[1] > 0 ? human(+o[1]) : "none pending";
			});
		});
	}
	function row(cells, classes) {
		var tr = document.createElement("tr");
		cells.forEach(function (c, i) {
			tr.appendChild(el("td", c, classes && classes[i]));
		});
		return tr;
	}
	function emptyRow(text, n) {
		var tr = row([text]);
		tr.firstChild.colSpan = n;
		tr.firstChild.className = "muted";
		return tr;
	}
	/* One line on what a job is doing or did. */
	function details(j) {
		if (j.status === "pending") {
			var w = j.waiting || {};
			return w.message || w.reason || "waiting";
		}
		if (j.status === "running")
			return "running for " + human(span(j.started_at)) +
			    (j.worker ? " on " + j.worker : "") + (j.cancel_requested ? ", cancel requested" : "");
		var s = [];
		if (j.signal !== null && j.signal !== undefined) s.push("signal " + j.signal);
		else if (j.exit_code !== null && j.exit_code !== undefined) s.push("exit " + j.exit_code);
		if (j.started_at) s.push("ran " + human(span(j.started_at, j.finished_at)));
		if (j.error) s.push(j.error);
		return s.join(" · ");
	}
	function jobRow(j) {
		var tr = document.createElement("tr"), td = el("td", null, "mono");
		var a = el("a", j.id);
		a.href = "#job=" + encodeURIComponent(j.id);
		td.appendChild(a);
		tr.appendChild(td);
		tr.appendChild(el("td", j.name || "", "name"));
		tr.appendChild(el("td", j.status, "st st-" + j.status));
		tr.appendChild(el("td", details(j), "details"));
		tr.appendChild(el("td", ago(j.created_at), "when"));
		return tr;
	}
	function loadList() {
		var q = new URLSearchParams();
		q.set("limit", view.limit);
		if (view.status) q.set("status", view.status);
		if (view.name) q.set("name", view.name);
		if (view.label) q.set("label", view.label);
		if (view.after) q.set("after", view.after);
		var want = location.hash;
		return get("/api/v1/jobs?" + q.toString(), true).then(json).then(function (b) {
			if (location.hash !== want) return;
			var tb = $("joblist"), jobs = b.jobs || [], n = view.prev.length;
			clear(tb);
			jobs.forEach(function (j) { tb.appendChild(jobRow(j)); });
			if (!jobs.length)
				tb.appendChild(emptyRow(n ? "no more jobs" : "no job", 5));
			page.next = b.next || null;
			$("p-next").disabled = !page.next;
			$("p-prev").disabled = $("p-first").disabled = !view.after;
			var first = n * (+view.limit) + 1;
			$("p-info").textContent = "page " + (n + 1) + (jobs.length ?
			    " · jobs " + first + "–" + (first + jobs.length - 1) : "");
		});
	}
	function syncFilters() {
		$("f-status").value = view.status;
		if ($("f-status").value !== view.status) {
			/* a status typed in the address: offered as it is */
			var o = el("option", view.status);
			$("f-status").appendChild(o);
			$("f-status").value = view.status;
		}
		if (document.activeElement !== $("f-name")) $("f-name").value = view.name;
		if (document.activeElement !== $("f-label")) $("f-label").value = view.label;
		$("f-limit").value = view.limit;
		if ($("f-limit").value !== view.limit) {
			$("f-limit").appendChild(el("option", view.limit));
			$("f-limit").value = view.limit;
		}
	}

	/* ---- a job's page ---- */
	var ORDER = ["id", "name", "status", "description", "owner", "labels", "priority",
	    "created_at", "run_at", "started_at", "finished_at", "attempts", "max_attempts",
	    "exit_code", "signal", "error", "worker", "cancel_requested", "rerun_of",
	    "batch", "after", "shell", "command", "args", "env", "cwd", "timeout"];
	function fieldValue(k, v) {
		if (v === null || v === undefined) return "–";
		if (typeof v === "object") return JSON.stringify(v);
		if (/_at$/.test(k) && typeof v === "string" && !isNaN(Date.parse(v)))
			return v + " (" + ago(v) + ")";
		return String(v);
	}
	function showFields(j) {
		var keys = Object.keys(j).filter(function (k) { return k !== "waiting"; });
		keys.sort(function (a, b) {
			var x = ORDER.indexOf(a), y = ORDER.indexOf(b);
			if (x < 0) x = 1000;
			if (y < 0) y = 1000;
			return x !== y ? x - y : (a < b ? -1 : a > b ? 1 : 0);
		});
		var tb = $("jobfields");
		clear(tb);
		keys.forEach(function (k) {
			var tr = row([k, fieldValue(k, j[k])], ["key", "val"]);
			tr.setAttribute("data-field", k);
			tb.appendChild(tr);
		});
	}
	function showJob(j) {
		job = j;
		$("jobid").textContent = j.id;
		$("jobstatus").textContent = j.status + (j.cancel_requested && !isFinal(j.status) ?
		    " (cancel requested)" : "");
		$("jobstatus").className = "badge st-" + j.status;
		$("jobname").textContent = j.name || "(no name)";
		var w = j.status === "pending" && j.waiting;
		$("jobwait").hidden = !w;
		$("jobwait").textContent = w ? "Waiting: " + (w.message || w.reason) : "";
		var ask = !$("jobconfirm").hidden;
		$("jobcancel").hidden = ask || isFinal(j.status) || !!j.cancel_requested;
		$("jobrerun").hidden = ask || !isFinal(j.status);
		showFields(j);
		document.title = "jobspool: " + (j.name || j.id);
	}
	function loadJob() {
		var id = view.job;
		return get(jobPath(id) + "?peek=1", true).then(json).then(function (j) {
			if (view.job !== id) return;
			showJob(j);
			if (!log || log.id !== id) startLog(id, TAIL);
		}).catch(function (e) {
			if (view.job !== id) return;
			throw new Error("job " + id + ": " + errText(e));
		});
	}
	function resetJobPage() {
		job = null;
		["jobid", "jobstatus", "jobname", "jobmsg", "loginfo"].forEach(function (i) {
			$(i).textContent = "";
		});
		$("jobmsg").textContent = flash;
		flash = "";
		clear($("jobfields"));
		clear($("joblog"));
		$("jobwait").hidden = $("jobcancel").hidden = $("jobrerun").hidden = true;
		$("jobconfirm").hidden = true;
		$("logmore").hidden = true;
	}

	/* ---- the live log ---- */
	function stopLog() {
		if (log) {
			log.stopped = true;
			log.ctl.abort();
			clearTimeout(log.retry);
		}
		log = null;
	}
	function appendLog(s, text) {
		var pre = $("joblog");
		var bottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 40;
		pre.appendChild(document.createTextNode(text));
		s.chars += text.length;
		while (s.chars > 4000000 && pre.firstChild) {	/* keep the page light */
			s.chars -= pre.firstChild.nodeValue.length;
			pre.removeChild(pre.firstChild);
			s.cut = true;
		}
		s.lines += (text.match(/\n/g) || []).length;
		if (bottom) pre.scrollTop = pre.scrollHeight;
	}
	/* The stream has ended: its last line is the outcome (outcome=1),
	 * unless the connection was cut. */
	function endLog(s) {
		var pre = $("joblog"), all = pre.textContent, m = /(^|\n)jobspool-outcome: (\{[^\n]*\})\n?$/.exec(all);
		if (!m) {
			$("loginfo").textContent = "· connection lost, reconnecting…";
			s.retry = setTimeout(function () {
				if (log === s) startLog(s.id, s.tail);
			}, 2000);
			return;
		}
		pre.textContent = all.slice(0, m.index + m[1].length);
		var o = {};
		try { o = JSON.parse(m[2]); } catch (e) { o = {}; }
		var how = o.status || "ended";
		if (o.signal !== null && o.signal !== undefined) how += ", signal " + o.signal;
		else if (o.exit_code !== null && o.exit_code !== undefined) how += ", exit " + o.exit_code;
		$("loginfo").textContent = "· " + (s.cut || s.lines >= s.tail ? "last lines · " : "") +
		    "the job ended: " + how;
		$("logmore").hidden = !(s.cut || s.lines >= s.tail);
		s.ended = true;
		loadJob().catch(function (e) { showError(errText(e)); });
	}
	function startLog(id, tail) {
		stopLog();
		var s = { id: id, ctl: new AbortController(), tail: tail, lines: 0, chars: 0 };
		log = s;
		clear($("joblog"));
		$("logmore").hidden = true;
		$("loginfo").textContent = "· following (last " + tail + " lines, then live)";
		var dec = new TextDecoder("utf-8");
		fetch(jobPath(id) + "/log?follow=1&outcome=1&tail=" + tail,
		    { headers: headers(), signal: s.ctl.signal, cache: "no-store" }).then(function (r) {
			if (!r.ok) return json(r);
			var rd = r.body.getReader();
			function pump() {
				return rd.read().then(function (x) {
					if (log !== s) { rd.cancel(); return; }
					if (x.done) {
						var rest = dec.decode();
						if (rest) appendLog(s, rest);
						return endLog(s);
					}
					appendLog(s, dec.decode(x.value, { stream: true }));
					if (s.lines >= s.tail) $("logmore").hidden = false;
					return pump();
				});
			}
			return pump();
		}).catch(function (e) {
			if (s.stopped || e.name === "AbortError") return;
			$("loginfo").textContent = "· " + errText(e);
		});
	}

	/* ---- cancel / re-run ---- */
	function confirmThen(question, act) {
		$("jobask").textContent = question;
		$("jobconfirm").hidden = false;
		$("jobcancel").hidden = $("jobrerun").hidden = true;
		$("jobmsg").textContent = "";
		$("jobyes").focus();
		confirmThen.act = act;
	}
	function answer(yes) {
		var act = confirmThen.act;
		confirmThen.act = null;
		$("jobconfirm").hidden = true;
		if (job) showJob(job);
		if (yes && act) act();
	}
	function cancelJob() {
		var id = job.id;
		send("PUT", jobPath(id), { status: "cancelled" }).then(function (j) {
			$("jobmsg").textContent = j.cancel_requested && j.status === "running" ?
			    "cancel requested: the processor stops it within a second" : "cancelled";
			return loadJob();
		}).catch(function (e) {
			$("jobmsg").textContent = "refused: " + errText(e);
		});
	}
	function rerunJob() {
		var id = job.id;
		send("POST", jobPath(id) + "/rerun").then(function (j) {
			flash = "a re-run of " + id;
			go("#job=" + encodeURIComponent(j.id));
		}).catch(function (e) {
			$("jobmsg").textContent = "refused: " + errText(e);
		});
	}

	/* ---- putting it together ---- */
	/* The token field while no token is kept, else a button to forget it. */
	function showLogin() {
		var have = !!token();
		$("token").hidden = $("usetoken").hidden = have;
		$("logout").hidden = !have;
	}
	function refresh() {
		showLogin();
		var work = [health(), metrics()];
		work.push(view.job ? loadJob() : loadList());
		return Promise.all(work).then(function () {
			showError(token() ? "" : "type an API token above to see the jobs");
			$("updated").textContent = "updated " + new Date().toLocaleTimeString();
		}).catch(function (e) { showError(errText(e)); });
	}
	function render() {
		var was = view.job;
		view = parseHash();
		$("overview").hidden = !!view.job;
		$("jobview").hidden = !view.job;
		if (view.job !== was) {
			stopLog();
			resetJobPage();
			document.title = "jobspool";
		}
		if (!view.job) syncFilters();
		return refresh();
	}
	function listNav(after, prev) {
		var v = Object.assign({}, view, { after: after, prev: prev });
		go(listHash(v));
	}
	function wire() {
		$("filters").addEventListener("submit", function (ev) {
			ev.preventDefault();
			go(listHash({ status: $("f-status").value, name: $("f-name").value.trim(),
			    label: $("f-label").value.trim(), limit: $("f-limit").value,
			    after: "", prev: [] }));
		});
		$("f-status").addEventListener("change", function () { $("filters").requestSubmit(); });
		$("f-limit").addEventListener("change", function () { $("filters").requestSubmit(); });
		$("p-next").addEventListener("click", function () {
			if (page.next) listNav(page.next, view.prev.concat([view.after || "-"]));
		});
		$("p-prev").addEventListener("click", function () {
			var p = view.prev.slice(), a = p.pop();
			listNav(a && a !== "-" ? a : "", p);
		});
		$("p-first").addEventListener("click", function () { listNav("", []); });
		$("jobcancel").addEventListener("click", function () {
			confirmThen("Cancel job " + job.id + "?", cancelJob);
		});
		$("jobrerun").addEventListener("click", function () {
			confirmThen("Run job " + job.id + " again as a new job?", rerunJob);
		});
		$("jobyes").addEventListener("click", function () { answer(true); });
		$("jobno").addEventListener("click", function () { answer(false); });
		$("logmore").addEventListener("click", function () {
			if (log) startLog(log.id, log.tail * 10);
		});
		$("login").addEventListener("submit", function (ev) {
			ev.preventDefault();
			sessionStorage.setItem(KEY, $("token").value);
			$("token").value = "";
			refresh();
		});
		$("logout").addEventListener("click", function () {
			sessionStorage.removeItem(KEY);
			stopLog();
			refresh();
		});
		window.addEventListener("hashchange", render);
		window.addEventListener("pagehide", stopLog);
	}
	document.addEventListener("DOMContentLoaded", function () {
		wire();
		render();
		setInterval(refresh, 3000);
	});
})();
