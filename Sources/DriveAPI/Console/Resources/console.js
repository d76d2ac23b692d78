// drivesd console: live updates and the chunked upload. Plain JavaScript, no framework; every
// page works without it (it only refreshes the parts marked data-live, and uploads).
"use strict";
(() => {
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const indicator = document.getElementById("live-status");

  // --- live regions: re-render the page on the server, swap the marked parts -------------------
  let timer = null;
  let running = false;
  let again = false;
  async function refresh() {
    if (running) { again = true; return; }
    running = true;
    try {
      const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Console-Refresh": "1" } });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const region of document.querySelectorAll("[data-live]")) {
          const next = fresh.getElementById(region.id);
          if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
        }
      }
    } catch (e) { /* the next event or tick tries again */ }
    running = false;
    if (again) { again = false; schedule(); }
  }
  function schedule() {
    if (timer) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 100);
  }

  // --- change events: the admin websocket (every account's changes) --------------------------
  const scope = body.dataset.events || "";
  function relevant(frame) {
    if (scope === "all") return true;
    if (scope.startsWith("account:")) return frame.owner === scope.slice(8);
    return false;
  }
  let delay = 500;
  function connect() {
    const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/_drivesd/websocket");
    socket.onopen = () => {
      delay = 500;
      if (indicator) { indicator.textContent = "live"; indicator.classList.add("connected"); }
      schedule(); // whatever changed while it was away
    };
    socket.onmessage = (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (relevant(frame)) schedule();
    };
    socket.onclose = () => {
      if (indicator) { indicator.textContent = "reconnecting"; indicator.classList.remove("connected"); }
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  if (scope && document.querySelector("[data-live]")) connect();

  // Progress (jobs) and the request log are not change events: those pages poll.
  const poll = Number(body.dataset.poll || 0);
  if (poll > 0) setInterval(schedule, poll);

  // --- upload: initupload, then the resumable protocol of the API -----------------------------
  const form = document.getElementById("upload-form");
  if (form) {
    const bar = document.getElementById("upload-progress");
    const percent = document.getElementById("upload-percent");
    const status = document.getElementById("upload-status");
    const chunkSize = Number(form.dataset.chunkSize);
    const show = (done, total) => {
      const p = total > 0 ? Math.floor((done * 100) / total) : 100;
      bar.value = p;
      percent.textContent = p + "%";
    };
    async function api(method, url, body, headers) {
      const response = await fetch(url, {
        method, body, credentials: "same-origin", headers: Object.assign({ "X-CSRF-Token": csrf }, headers || {}),
      });
      return response;
    }
    async function failure(response) {
      try { const errors = await response.json(); return errors.map((e) => e.error_message).join("; "); }
      catch (e) { return "HTTP " + response.status; }
    }
    function send(url, data, onProgress) {
      return new Promise((resolve, reject) => {
        const request = new XMLHttpRequest();
        request.open("POST", url);
        request.setRequestHeader("X-CSRF-Token", csrf);
        request.upload.onprogress = (e) => onProgress(e.loaded);
        request.onload = () => resolve(request);
        request.onerror = () => reject(new Error("the connection failed"));
        request.send(data);
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = document.getElementById("upload-file").files[0];
      const account = document.getElementById("upload-account").value;
      if (!file) return;
      const name = document.getElementById("upload-name").value || file.name;
      const start = document.getElementById("upload-start");
      start.disabled = true;
      show(0, file.size);
      const base = "/_drivesd/accounts/" + encodeURIComponent(account);
      const memory = "drivesd-upload:" + account + ":" + file.name + ":" + file.size + ":" + file.lastModified;
      try {
        let uuid = localStorage.getItem(memory);
        const chunks = Math.max(1, Math.floor(file.size / chunkSize));
        const query = (n) => "?resumableChunkNumber=" + n + "&resumableChunkSize=" + chunkSize + "&resumableTotalSize=" + file.size;
        if (uuid) {
          const check = await api("GET", base + "/drives/" + uuid + "/upload" + query(1));
          if (check.status !== 200 && check.status !== 404) uuid = null; // gone or finished: start anew
        }
        if (!uuid) {
          status.textContent = "Creating the drive…";
          const created = await api("POST", base + "/initupload", JSON.stringify({ name, size: file.size, media: "disk" }),
            { "Content-Type": "application/json" });
          if (created.status !== 201) throw new Error(await failure(created));
          uuid = (await created.json()).objects[0].uuid;
          localStorage.setItem(memory, uuid);
        }
        status.textContent = "Uploading to " + uuid + "…";
        let done = 0;
        for (let n = 1; n <= chunks; n++) {
          const from = (n - 1) * chunkSize;
          const to = n === chunks ? file.size : from + chunkSize;
          const have = await api("GET", base + "/drives/" + uuid + "/upload" + query(n));
          if (have.status === 200) { done += to - from; show(done, file.size); continue; }
          const data = new FormData();
          data.append("resumableChunkNumber", String(n));
          data.append("resumableChunkSize", String(chunkSize));
          data.append("resumableTotalSize", String(file.size));
          data.append("file", file.slice(from, to), file.name);
          const sent = await send(base + "/drives/" + uuid + "/upload", data, (loaded) => show(done + Math.min(loaded, to - from), file.size));
          if (sent.status !== 200) {
            let message = "HTTP " + sent.status;
            try { message = JSON.parse(sent.responseText).map((e) => e.error_message).join("; "); } catch (e) {}
            throw new Error(message);
          }
          done += to - from;
          show(done, file.size);
        }
        localStorage.removeItem(memory);
        show(file.size, file.size);
        status.innerHTML = "";
        const link = document.createElement("a");
        link.id = "upload-done";
        link.href = "/_drivesd/console/accounts/" + account + "/drives/" + uuid;
        link.textContent = "Uploaded: drive " + uuid;
        status.appendChild(link);
      } catch (error) {
        status.textContent = "Upload failed: " + error.message;
      } finally {
        start.disabled = false;
      }
    });
  }
})();
