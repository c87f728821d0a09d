/* Shardflow dashboard: polls the server's JSON every second and draws it with uPlot.
 * Plain script, no build step. State is in the URL hash: #stream=NAME&range=5m|1h|1d.
 * window.shardflowDashboard exposes the charts (uPlot instances) for tests. */
(function () {
  "use strict";

  const POLL_MS = 1000;
  const COLORS = ["#2f6fde", "#e8710a", "#1e8e3e", "#c5221f", "#9334e6", "#12b5cb",
                  "#e52592", "#7cb342", "#f9ab00", "#5f6368"];
  const RANGE_LABEL = { "5m": "5 min", "1h": "1 hour", "1d": "1 day" };
  const FLOOR = { "%": 100, bytes: 1024, ms: 1, count: 1 };  // the y axis shows at least this

  // Averages and maxima have no value in an interval without calls: bridge gaps of up to
  // MAX_BRIDGE intervals (a slow, steady caller), leave longer ones (idle time) empty.
  const MAX_BRIDGE = 5;
  function bridge(values) {
    const out = values.slice();
    let last = -1;
    for (let i = 0; i < out.length; i++) {
      if (out[i] === null) continue;
      if (last >= 0 && i - last > 1 && i - last <= MAX_BRIDGE + 1) {
        for (let j = last + 1; j < i; j++) {
          out[j] = out[last] + ((out[i] - out[last]) * (j - last)) / (i - last);
        }
      }
      last = i;
    }
    return out;
  }

  // Dots only where a series has few values (single calls), else just the line.
  function sparse(values) {
    let n = 0;
    for (const v of values) if (v !== null && v > 0 && ++n >= 40) return false;
    return n > 0;
  }

  // Stream-level charts, as the console groups them: [metric, label] per line.
  const STREAM_CHARTS = [
    { title: "Incoming data", unit: "bytes", lines: [["IncomingBytes", "bytes"]] },
    { title: "Incoming records", unit: "count", lines: [["IncomingRecords", "records"]] },
    { title: "PutRecord bytes", unit: "bytes", lines: [["PutRecord.Bytes", "bytes"]] },
    { title: "PutRecord latency", unit: "ms", lines: [["PutRecord.Latency", "avg ms"]] },
    { title: "PutRecord success", unit: "%", lines: [["PutRecord.Success", "success %"]] },
    { title: "PutRecords bytes", unit: "bytes", lines: [["PutRecords.Bytes", "bytes"]] },
    { title: "PutRecords latency", unit: "ms", lines: [["PutRecords.Latency", "avg ms"]] },
    { title: "PutRecords success", unit: "%", lines: [["PutRecords.Success", "success %"]] },
    { title: "PutRecords records", unit: "count", lines: [
      ["PutRecords.TotalRecords", "total"], ["PutRecords.SuccessfulRecords", "successful"],
      ["PutRecords.FailedRecords", "failed"], ["PutRecords.ThrottledRecords", "throttled"]] },
    { title: "GetRecords bytes", unit: "bytes", lines: [["GetRecords.Bytes", "bytes"]] },
    { title: "GetRecords records", unit: "count", lines: [["GetRecords.Records", "records"]] },
    { title: "GetRecords latency", unit: "ms", lines: [["GetRecords.Latency", "avg ms"]] },
    { title: "GetRecords success", unit: "%", lines: [["GetRecords.Success", "success %"]] },
    { title: "GetRecords iterator age", unit: "ms",
      lines: [["GetRecords.IteratorAgeMilliseconds", "max ms"]] },
    { title: "Throughput exceeded", unit: "count", lines: [
      ["WriteProvisionedThroughputExceeded", "write (records)"],
      ["ReadProvisionedThroughputExceeded", "read (calls)"]] },
  ];
  const SHARD_CHARTS = [
    ["IncomingRecords", "Incoming records", "count"],
    ["IncomingBytes", "Incoming bytes", "bytes"],
    ["OutgoingRecords", "Outgoing records", "count"],
    ["OutgoingBytes", "Outgoing bytes", "bytes"],
    ["IteratorAgeMilliseconds", "Iterator age (max)", "ms"],
    ["WriteProvisionedThroughputExceeded", "Write throughput exceeded", "count"],
    ["ReadProvisionedThroughputExceeded", "Read throughput exceeded", "count"],
  ];
  // Enhanced fan-out (CloudWatch dimensions StreamName, ConsumerName): one line per consumer.
  const CONSUMER_CHARTS = [
    ["SubscribeToShardEvent.Records", "Records pushed", "count"],
    ["SubscribeToShardEvent.Bytes", "Bytes pushed", "bytes"],
    ["SubscribeToShardEvent.MillisBehindLatest", "Millis behind latest (max)", "ms"],
    ["SubscribeToShardEvent.Success", "Events pushed", "count"],
    ["SubscribeToShard.Success", "SubscribeToShard success", "%"],
    ["SubscribeToShard.RateExceeded", "SubscribeToShard refused (rate, in use)", "count"],
  ];
  // Kinesis queues (CloudWatch dimensions QueueId, QueueName): one line per queue of the stream.
  const QUEUE_CHARTS = [
    ["ReceivedQueueRecords", "Records received"],
    ["AcknowledgedQueueRecords", "Records acknowledged"],
    ["EmptyReceives", "Empty receives"],
    ["VisibleQueueRecords", "Visible records"],
    ["InFlightQueueRecords", "Records in flight"],
    ["VisibleDeadLetterQueueRecords", "Visible dead letters"],
  ];
  const TOTALS = [
    ["IncomingRecords", "incoming records"], ["IncomingBytes", "incoming bytes"],
    ["GetRecords.Records", "records read"], ["PutRecords.ThrottledRecords", "throttled entries"],
    ["WriteProvisionedThroughputExceeded", "write throttles"],
    ["ReadProvisionedThroughputExceeded", "read throttles"],
    ["PutRecords.FailedRecords", "failed entries"],
    ["GetRecords.IteratorAgeMilliseconds", "max iterator age ms"],
  ];

  const state = { stream: null, range: "5m", charts: new Map(), updates: 0, lastError: null };
  window.shardflowDashboard = state;

  const $ = (sel) => document.querySelector(sel);

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("stream")) state.stream = params.get("stream");
    if (RANGE_LABEL[params.get("range")]) state.range = params.get("range");
  }
  function writeHash() {
    const params = new URLSearchParams();
    if (state.stream) params.set("stream", state.stream);
    params.set("range", state.range);
    history.replaceState(null, "", "#" + params.toString());
  }

  function fmt(v, unit) {
    if (v === null || v === undefined) return "–";
    if (unit === "%") return (v).toFixed(1) + " %";
    if (unit === "bytes") {
      const units = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return (i && Math.abs(v) < 100 ? v.toFixed(1) : Math.round(v)) + " " + units[i];
    }
    if (unit === "ms") return (v < 10 ? v.toFixed(2) : Math.round(v).toLocaleString()) + " ms";
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(2) + " M";
    if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(1) + " k";
    return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2);
  }
  // 24-hour "HH:MM" ticks: short enough for a tick a minute on a laptop-sized chart.
  function clockTicks(u, splits) {
    return splits.map((ts) => new Date(ts * 1000).toTimeString().slice(0, 5));
  }
  function axisFmt(unit) {
    return (u, splits) => splits.map((v) => (v === null ? "" : fmt(v, unit === "%" ? "%" : unit)));
  }

  function chartBox(container, key, title) {
    let box = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!box) {
      box = document.createElement("div");
      box.className = "chart";
      box.dataset.key = key;
      box.innerHTML = '<div class="title"><span></span><span class="sum"></span></div>' +
                      '<div class="plot"></div>';
      box.querySelector(".title span").textContent = title;
      container.appendChild(box);
    }
    return box;
  }

  function draw(container, key, title, unit, labels, xs, ys, summary) {
    const box = chartBox(container, key, title);
    box.querySelector(".sum").textContent = summary;
    const plot = box.querySelector(".plot");
    const width = Math.max(200, plot.clientWidth || 320);
    const data = [xs, ...ys];
    let chart = state.charts.get(key);
    if (chart && (chart.series.length !== labels.length + 1 ||
                  labels.some((label, i) => chart.series[i + 1].label !== label))) {
      chart.destroy();
      chart = null;
    }
    if (!chart) {
      const opts = {
        width, height: 150,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max, FLOOR[unit] || 1)] } },
        series: [{}].concat(labels.map((label, i) => ({
          label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false,
          fill: labels.length === 1 ? COLORS[0] + "22" : undefined,
          value: (u, v) => fmt(v, unit),
          points: { size: 4, show: (u, sid) => sparse(u.data[sid]) },
        }))),
        axes: [{ size: 26, space: 42, values: clockTicks }, { size: 64, values: axisFmt(unit) }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      };
      chart = new uPlot(opts, data, plot);
      state.charts.set(key, chart);
    } else {
      if (Math.abs(chart.width - width) > 4) chart.setSize({ width, height: 150 });
      chart.setData(data);
    }
  }

  function dropChart(container, key) {
    const chart = state.charts.get(key);
    if (chart) {
      chart.destroy();
      state.charts.delete(key);
    }
    const box = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (box) box.remove();
  }

  // What is on, and the command that turns the rest on (the AWS CLI's, against this server).
  function renderShardNote(stream, enabled) {
    const note = $("#shard-note");
    note.hidden = enabled.length === SHARD_CHARTS.length;
    if (note.hidden) return;
    const command = `aws kinesis enable-enhanced-monitoring --stream-name ${stream}` +
                    ` --shard-level-metrics ALL --endpoint-url ${location.origin}`;
    const lead = enabled.length
      ? `Enabled: ${enabled.join(", ")}. Enable every shard-level metric with `
      : "No shard-level metrics are enabled on this stream (as on AWS, they are off until " +
        "enabled). Enable them with ";
    if (note.dataset.text === lead + command) return;
    note.dataset.text = lead + command;
    note.textContent = lead;
    const code = document.createElement("code");
    code.textContent = command;
    note.appendChild(code);
  }

  function renderStream(body) {
    const xs = body.timestamps;
    const m = body.metrics;
    for (const spec of STREAM_CHARTS) {
      const scale = spec.unit === "%" ? 100 : 1;
      const ys = spec.lines.map(([name]) =>
        bridge(m[name].values.map((v) => (v === null ? null : v * scale))));
      const first = m[spec.lines[0][0]];
      const total = first.total === null ? null : first.total * scale;
      const label = first.statistic === "Sum" ? "Σ " : first.statistic === "Average" ? "avg " : "max ";
      draw($("#stream-charts"), "stream:" + spec.title, spec.title, spec.unit,
           spec.lines.map(([, l]) => l), xs, ys, label + fmt(total, spec.unit));
    }
    // Enhanced monitoring: only the shard-level metrics enabled on the stream, as on AWS.
    const enabled = body.shard_level_metrics || [];
    renderShardNote(body.stream, enabled);
    const shards = Object.keys(body.shards).sort();
    for (const [name, title, unit] of SHARD_CHARTS) {
      if (!enabled.includes(name) || !shards.length) {
        dropChart($("#shard-charts"), "shard:" + name);
        continue;
      }
      const ys = shards.map((s) => bridge(body.shards[s][name].values));
      const totals = shards.map((s) => body.shards[s][name].total || 0);
      const stat = name === "IteratorAgeMilliseconds" ? "max " : "Σ ";
      const total = stat === "max " ? Math.max(0, ...totals) : totals.reduce((a, b) => a + b, 0);
      draw($("#shard-charts"), "shard:" + name, title, unit,
           shards.map((s) => s.replace("shardId-", "")), xs, ys, stat + fmt(total, unit));
    }
    renderConsumers(body, xs);
    renderQueues(body, xs);
    $("#totals").innerHTML = "";
    for (const [name, label] of TOTALS) {
      const metric = m[name];
      const div = document.createElement("div");
      div.className = "total" + (/Throttl|Exceeded|Failed/.test(name) && metric.total > 0 ? " alert" : "");
      const unit = metric.unit === "Bytes" ? "bytes" : metric.unit === "Milliseconds" ? "ms" : "count";
      div.innerHTML = '<div class="v"></div><div class="k"></div>';
      div.querySelector(".v").textContent = fmt(metric.total, unit);
      div.querySelector(".k").textContent = label + " · " + RANGE_LABEL[body.range];
      $("#totals").appendChild(div);
    }
    const s = body.summary;
    $("#stream-title").textContent = body.stream;
    $("#stream-facts").textContent = s
      ? `${s.status} · ${s.mode} · ${s.open_shards} open shard${s.open_shards === 1 ? "" : "s"}` +
        (s.closed_shards ? ` (${s.closed_shards} closed)` : "") + ` · retention ${s.retention_hours} h`
      : "deleted";
  }

  // Hidden while no consumer subscribed in the range.
  function renderConsumers(body, xs) {
    const consumers = Object.keys(body.consumers || {}).sort();
    $("#consumers").hidden = consumers.length === 0;
    for (const [name, title, unit] of CONSUMER_CHARTS) {
      if (!consumers.length) break;
      const scale = unit === "%" ? 100 : 1;
      const ys = consumers.map((c) =>
        bridge(body.consumers[c][name].values.map((v) => (v === null ? null : v * scale))));
      const totals = consumers.map((c) => body.consumers[c][name].total);
      const statistic = body.consumers[consumers[0]][name].statistic;
      let summary = "";
      if (statistic === "Sum") summary = "Σ " + fmt(totals.reduce((a, b) => a + b, 0), unit);
      else if (statistic === "Maximum") summary = "max " + fmt(Math.max(0, ...totals), unit);
      else if (consumers.length === 1 && totals[0] !== null) {
        summary = "avg " + fmt(totals[0] * scale, unit);  // an average of averages would mislead
      }
      draw($("#consumer-charts"), "consumer:" + name, title, unit, consumers, xs, ys, summary);
    }
  }

  // Always shown: the queues' charts, or a note on how to add one (ON_DEMAND streams only).
  function renderQueues(body, xs) {
    const name = (key) => key.slice(key.indexOf("/") + 1);  // keyed "<queue id>/<queue name>"
    const keys = Object.keys(body.queues || {})
      .sort((a, b) => name(a).localeCompare(name(b)) || a.localeCompare(b));
    const note = $("#queue-note");
    note.hidden = keys.length > 0;
    if (!keys.length) {
      for (const [name] of QUEUE_CHARTS) dropChart($("#queue-charts"), "queue:" + name);
      const s = body.summary;
      const text = !s ? "No queue read this stream in the range."
        : s.mode !== "ON_DEMAND" ? "No queues: queues read ON_DEMAND streams only."
        : "No queue reads this stream. Create one with ";
      if (note.dataset.text === text) return;
      note.dataset.text = text;
      note.textContent = text;
      if (s && s.mode === "ON_DEMAND") {
        const code = document.createElement("code");
        code.textContent = `shardflow queue create NAME --stream ${s.arn}` +
                           ` --endpoint-url ${location.origin}`;
        note.appendChild(code);
      }
      return;
    }
    // labelled by name, with the start of the id where names repeat (a queue deleted, re-created)
    const names = keys.map(name);
    const labels = keys.map((k, i) => names.indexOf(names[i]) === names.lastIndexOf(names[i])
      ? names[i] : `${names[i]} (${k.slice(0, 6)})`);
    for (const [metric, title] of QUEUE_CHARTS) {
      const ys = keys.map((q) => bridge(body.queues[q][metric].values));
      let summary;
      if (body.queues[keys[0]][metric].statistic === "Sum") {
        summary = "Σ " + fmt(keys.reduce((a, q) => a + body.queues[q][metric].total, 0), "count");
      } else {  // a sampled depth: the queues' latest samples, added up
        summary = "now " + fmt(ys.reduce((a, v) => a + latest(v), 0), "count");
      }
      draw($("#queue-charts"), "queue:" + metric, title, "count", labels, xs, ys, summary);
    }
  }
  // The last value of a series, if it is recent (a deleted queue's last sample is not "now").
  function latest(values) {
    for (let i = values.length - 1; i >= Math.max(0, values.length - MAX_BRIDGE - 2); i--) {
      if (values[i] !== null) return values[i];
    }
    return 0;
  }

  function renderStreams(body) {
    const tbody = $("#streams tbody");
    tbody.innerHTML = "";
    $("#no-streams").hidden = body.streams.length > 0;
    if (!state.stream && body.streams.length) state.stream = body.streams[0].name;
    for (const s of body.streams) {
      const tr = document.createElement("tr");
      if (s.name === state.stream) tr.className = "selected";
      const rate = s.last_minute ? Math.round(s.last_minute.IncomingRecords / 6) / 10 : null;
      const cells = [
        [s.name, "name"], [`<span class="badge ${s.status}">${s.status}</span>`, "", true],
        [s.mode === "ON_DEMAND" ? "on-demand" : "provisioned", "small"],
        [s.open_shards + (s.closed_shards ? ` (${s.closed_shards})` : ""), "num"],
        [s.retention_hours + " h", "num"], [rate === null ? "–" : rate.toFixed(1), "num"],
      ];
      for (const [text, cls, html] of cells) {
        const td = document.createElement("td");
        if (cls) td.className = cls;
        if (html) td.innerHTML = text; else td.textContent = text;
        tr.appendChild(td);
      }
      tr.title = s.name;
      tr.addEventListener("click", () => { select(s.name); });
      tbody.appendChild(tr);
    }
  }

  function select(name) {
    if (name === state.stream) return;
    state.stream = name;
    for (const chart of state.charts.values()) chart.destroy();
    state.charts.clear();
    $("#stream-charts").innerHTML = "";
    $("#shard-charts").innerHTML = "";
    $("#consumer-charts").innerHTML = "";
    $("#queue-charts").innerHTML = "";
    writeHash();
    poll();
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  let timer = null;
  async function poll() {
    clearTimeout(timer);
    try {
      const streams = await getJson("/dashboard/api/streams");
      renderStreams(streams);
      if (!streams.metrics) throw new Error("metrics are off (serve --no-metrics)");
      if (state.stream) {
        writeHash();
        const q = new URLSearchParams({ stream: state.stream, range: state.range });
        renderStream(await getJson("/dashboard/api/metrics?" + q));
      }
      state.updates += 1;
      state.lastError = null;
      $("#status").className = "status";
      $("#status").textContent = "live · updated " + new Date().toLocaleTimeString();
    } catch (err) {
      state.lastError = String(err);
      $("#status").className = "status error";
      $("#status").textContent = String(err.message || err);
    }
    timer = setTimeout(poll, POLL_MS);
  }

  for (const button of document.querySelectorAll(".ranges button")) {
    button.addEventListener("click", () => {
      state.range = button.dataset.range;
      for (const b of document.querySelectorAll(".ranges button")) {
        b.classList.toggle("active", b === button);
      }
      writeHash();
      poll();
    });
  }
  window.addEventListener("resize", () => {
    for (const chart of state.charts.values()) {
      const plot = chart.root.parentElement;
      chart.setSize({ width: Math.max(200, plot.clientWidth), height: 150 });
    }
  });

  readHash();
  for (const b of document.querySelectorAll(".ranges button")) {
    b.classList.toggle("active", b.dataset.range === state.range);
  }
  poll();
})();
