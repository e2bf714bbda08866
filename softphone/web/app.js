// softphone web client: docs/protocol.md section 1 in a browser, with the browser's own
// RTCPeerConnection. Plain JavaScript, no build step, no external assets.
//
// Why it is shaped this way:
// - Negotiation is the W3C "perfect negotiation" pattern driven by
//   onnegotiationneeded; the caller is impolite, the callee polite, exactly as
//   the terminal softphone does, so either side may restart ICE at any time.
// - Every signaling message of a call is handled in arrival order through one
//   promise chain: a candidate must never overtake the description it belongs to.
// - The callee adds its microphone only after the first remote offer, so that
//   adding it cannot fire negotiationneeded and race the caller's offer.
// - window.softphone is a small API for people in the console and for tests:
//   everything the page does can be driven and observed without clicking.
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  const MAX_EVENTS = 5000;
  const MAX_ARRIVALS = 60000; // received audio frames kept for gap measurement (20 min)

  const state = {
    ws: null,
    user: null,
    online: new Set(),
    regions: [],
    regionsFromPage: false,
    region: null,
    policy: params.get("policy") === "relay" ? "relay" : "all",
    monitor: params.get("monitor") !== "0",
    autoAnswer: params.get("autoanswer") === "1",
    call: null,
    held: null,
    stream: null,
    events: [],
    listeners: [],
  };

  // --- events ----------------------------------------------------------------

  function now() {
    return performance.now();
  }

  // Every event is kept (for tests and the console) and shown in the log.
  function emit(name, fields = {}) {
    const record = { event: name, t: now(), ...fields };
    state.events.push(record);
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
    for (const listener of state.listeners) {
      try {
        listener(record);
      } catch (err) {
        console.error(err);
      }
    }
    ui.log(name, fields);
    return record;
  }

  // --- signaling ----------------------------------------------------------------

  function defaultServer() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws`;
  }

  function send(message) {
    if (state.held) {
      state.held.push(message); // in flight on a slow network: see holdSignaling
      return true;
    }
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      emit("error", { code: "signaling-unavailable", message: `cannot send ${message.type}` });
      return false;
    }
    ws.send(JSON.stringify(message));
    return true;
  }

  function connect(user, options = {}) {
    const server = options.server || params.get("server") || defaultServer();
    const token = options.token || params.get("token") || undefined;
    if (state.ws) state.ws.close();
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(server);
      state.ws = ws;
      let registered = false;
      ws.onopen = () => {
        const hello = { type: "hello", user };
        if (token) hello.token = token;
        ws.send(JSON.stringify(hello));
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          emit("error", { code: "bad-message", message: "the server sent invalid JSON" });
          return;
        }
        if (!registered && msg.type === "welcome") {
          registered = true;
          resolve(msg);
        } else if (!registered && msg.type === "error") {
          reject(new Error(`${msg.code}: ${msg.message}`));
        }
        onMessage(msg);
      };
      ws.onclose = () => {
        if (state.ws !== ws) return;
        state.ws = null;
        state.user = null;
        emit("signaling", { state: "closed" });
        if (state.call) endCall(state.call, "signaling-closed");
        ui.render();
        if (!registered) reject(new Error(`cannot connect to ${server}`));
      };
    });
  }

  function onMessage(msg) {
    switch (msg.type) {
      case "welcome":
        state.user = msg.user;
        state.online = new Set(msg.online || []);
        if (Array.isArray(msg.regions) && !state.regionsFromPage) setRegions(msg.regions, false);
        emit("registered", { user: msg.user, online: [...state.online].sort() });
        break;
      case "presence":
        if (msg.online) state.online.add(msg.user);
        else state.online.delete(msg.user);
        emit("presence", { user: msg.user, online: msg.online });
        break;
      case "error":
        emit("error", { code: msg.code, message: msg.message, call: msg.call });
        if (state.call && msg.call === state.call.id &&
            (msg.code === "unavailable" || msg.code === "unknown-call")) {
          endCall(state.call, msg.code);
        }
        break;
      case "invite":
        onInvite(msg);
        break;
      case "regions":
        if (Array.isArray(msg.regions) && !state.regionsFromPage) renewRegions(msg.regions);
        break;
      default: {
        const call = state.call;
        if (!call || msg.call !== call.id) return; // a stale call: nothing to do
        call.enqueue(() => call.onMessage(msg));
      }
    }
    ui.render();
  }

  // --- media ----------------------------------------------------------------------

  async function microphone() {
    if (!state.stream || state.stream.getAudioTracks().every((t) => t.readyState === "ended")) {
      state.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
    return state.stream;
  }

  // Counts received audio frames off the media path, in a worker: one encoded
  // frame is one RTP packet, so the longest interval between two is the longest
  // gap in arrivals (getStats audioLevel is 0 in headless browsers).
  const FRAME_WORKER = `
    onrtctransform = (event) => {
      const transformer = event.transformer;
      const origin = performance.timeOrigin;
      transformer.readable.pipeThrough(new TransformStream({
        transform(frame, controller) {
          self.postMessage(origin + performance.now());
          controller.enqueue(frame);
        },
      })).pipeTo(transformer.writable).catch(() => {});
    };`;
  let frameWorker = null;

  // Chrome only hands frames to a transform set before the receiver is
  // configured: for the caller that is before the answer is applied, so the
  // caller sets it when it adds its track and the callee when the offer's track arrives.
  function watchFrames(call, receiver) {
    if (!state.monitor || typeof RTCRtpScriptTransform !== "function") return;
    if (!receiver || receiver.transform) return;
    if (!frameWorker) {
      const url = URL.createObjectURL(new Blob([FRAME_WORKER], { type: "text/javascript" }));
      frameWorker = new Worker(url);
      frameWorker.onmessage = (ev) => {
        const c = state.call;
        if (c) c.onFrame(ev.data - performance.timeOrigin);
      };
    }
    receiver.transform = new RTCRtpScriptTransform(frameWorker, { call: call.id });
    call.frameCounting = true;
  }

  // --- regions ----------------------------------------------------------------------

  function iceServersOf(region) {
    const servers = (region && (region.ice_servers || region.iceServers)) || [];
    return servers.map((s) => {
      const out = { urls: Array.isArray(s.urls) ? [...s.urls] : [s.urls] };
      if (s.username !== undefined) out.username = s.username;
      if (s.credential !== undefined) out.credential = s.credential;
      return out;
    });
  }

  function urlsOf(servers) {
    return servers.flatMap((s) => s.urls); // never credentials
  }

  function policyOf(region) {
    const policy = region && (region.ice_transport_policy || region.iceTransportPolicy);
    return policy === "relay" || policy === "all" ? policy : state.policy;
  }

  function findRegion(name) {
    return state.regions.find((r) => r.name === name) || null;
  }

  function setRegions(regions, fromPage = true) {
    if (!Array.isArray(regions)) throw new TypeError("regions must be a list");
    state.regions = regions.filter((r) => r && typeof r.name === "string");
    state.regionsFromPage = state.regionsFromPage || fromPage;
    if (!findRegion(state.region)) {
      const wanted = params.get("region");
      state.region = findRegion(wanted) ? wanted : state.regions[0]?.name ?? null;
    }
    ui.render();
  }

  // The server's fresh TURN credentials for its regions (docs/protocol.md section 1):
  // a live call gets them with setConfiguration (same servers, new credentials),
  // without an ICE restart; the next switch or restart authenticates with them.
  function renewRegions(regions) {
    const fresh = regions.filter((r) => r && typeof r.name === "string");
    const names = state.regions.map((r) => r.name).filter((n) => fresh.some((r) => r.name === n));
    if (names.length === 0) return;
    state.regions = state.regions.map((r) => fresh.find((f) => f.name === r.name) || r);
    const pc = state.call && state.call.pc;
    const fields = { regions: names };
    if (pc && names.includes(state.region)) {
      const config = pc.getConfiguration();
      config.iceServers = iceServersOf(findRegion(state.region));
      try {
        pc.setConfiguration(config);
        fields.call = state.call.id;
      } catch (err) {
        emit("error", { code: err.name, message: `fresh credentials not applied: ${err.message}` });
        return;
      }
    }
    emit("credentials-refreshed", fields);
  }

  function configuration() {
    const region = findRegion(state.region);
    return {
      iceServers: iceServersOf(region),
      iceTransportPolicy: policyOf(region),
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
    };
  }

  // setConfiguration with the region's servers, then restartIce (docs/protocol.md section 2).
  function switchRegion(name) {
    const region = findRegion(name);
    if (!region) {
      const known = state.regions.map((r) => r.name).join(", ") || "none";
      throw new Error(`unknown region "${name}" (known: ${known})`);
    }
    const servers = iceServersOf(region);
    const pc = state.call && state.call.pc;
    if (pc) {
      const config = pc.getConfiguration();
      config.iceServers = servers;
      config.iceTransportPolicy = policyOf(region);
      pc.setConfiguration(config); // throws the W3C errors; nothing changed then
    }
    state.region = name;
    emit("region", { name, urls: urlsOf(servers) });
    if (pc) pc.restartIce();
    ui.render();
  }

  // --- calls --------------------------------------------------------------------------

  function newCallId() {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function ufragOf(description) {
    const match = description && /^a=ice-ufrag:(\S+)/m.exec(description.sdp || "");
    return match ? match[1] : null;
  }

  function candidateCount(description) {
    return ((description && description.sdp) || "").split(/\r?\n/)
      .filter((line) => line.startsWith("a=candidate:")).length;
  }

  function candidateFields(c) {
    if (!c) return null;
    return {
      type: c.type, protocol: c.protocol, address: c.address, port: c.port,
      ufrag: c.usernameFragment,
    };
  }

  class Call {
    constructor(id, remote, direction) {
      this.id = id;
      this.remote = remote;
      this.direction = direction;
      this.polite = direction === "incoming";
      this.state = direction === "outgoing" ? "dialing" : "incoming";
      this.pc = null;
      this.makingOffer = false;
      this.ignoreOffer = false;
      this.trackAdded = false;
      this.chain = Promise.resolve();
      this.startedAt = now();
      this.connectedAt = null;
      this.selectedPair = null;
      this.pairs = [];
      this.candidatesSent = 0;
      this.endOfCandidatesSent = 0;
      this.candidatesReceived = 0;
      this.endOfCandidatesReceived = 0;
      this.candidateErrors = [];
      this.arrivals = [];
      this.frameCounting = false;
      this.audio = null;
      this.remoteStream = null;
    }

    setState(next, reason) {
      if (this.state === next || this.state === "ended") return;
      this.state = next;
      const fields = { call: this.id, state: next };
      if (reason) fields.reason = reason;
      emit("call-state", fields);
    }

    enqueue(task) {
      this.chain = this.chain.then(task).catch((err) => {
        emit("error", { code: "internal", message: String(err && err.message || err), call: this.id });
      });
      return this.chain;
    }

    startMedia() {
      const pc = new RTCPeerConnection(configuration());
      this.pc = pc;
      pc.onsignalingstatechange = () => emit("signaling-state", { state: pc.signalingState });
      pc.onicegatheringstatechange = () =>
        emit("ice-gathering-state", { state: pc.iceGatheringState });
      pc.oniceconnectionstatechange = () =>
        emit("ice-connection-state", { state: pc.iceConnectionState });
      pc.onconnectionstatechange = () => {
        emit("connection-state", { state: pc.connectionState });
        if (pc.connectionState === "connected" && this.connectedAt === null) {
          this.connectedAt = now();
        }
        ui.render();
      };
      pc.onicecandidate = ({ candidate }) => this.sendCandidate(candidate);
      pc.onnegotiationneeded = () => this.enqueue(() => this.offer());
      pc.ontrack = (ev) => this.onTrack(ev);
    }

    async offer() {
      const pc = this.pc;
      if (!pc || pc.signalingState === "closed") return;
      emit("negotiationneeded");
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.sendDescription(pc.localDescription);
      } finally {
        this.makingOffer = false;
      }
    }

    sendDescription(description) {
      const fields = {
        call: this.id, ufrag: ufragOf(description), candidates: candidateCount(description),
      };
      if (send({ type: "sdp", call: this.id, description: description.toJSON() })) {
        emit(`${description.type}-sent`, fields);
        this.watchTransport();
      }
    }

    sendCandidate(candidate) {
      // A null candidate (or an empty one) is the end of this generation's candidates.
      const body = candidate && candidate.candidate ? candidate.toJSON() : null;
      if (!send({ type: "ice", call: this.id, candidate: body })) return;
      if (body) this.candidatesSent += 1;
      else {
        this.endOfCandidatesSent += 1;
        emit("end-of-candidates-sent", { call: this.id });
      }
    }

    async onMessage(msg) {
      switch (msg.type) {
        case "ringing":
          if (this.state === "dialing") this.setState("ringing");
          break;
        case "accept":
          if (this.direction === "outgoing" && !this.pc) {
            this.setState("active");
            this.startMedia();
            const stream = await microphone();
            for (const track of stream.getAudioTracks()) this.pc.addTrack(track, stream);
            this.trackAdded = true;
            watchFrames(this, this.pc.getReceivers()[0]);
          }
          break;
        case "decline":
          endCall(this, msg.reason || "declined");
          break;
        case "hangup":
          endCall(this, msg.reason || "hangup");
          break;
        case "sdp":
          await this.onDescription(msg.description);
          break;
        case "ice":
          await this.onCandidate(msg.candidate);
          break;
        default:
          break;
      }
      ui.render();
    }

    async onDescription(description) {
      const pc = this.pc;
      if (!pc || pc.signalingState === "closed") return;
      emit(`${description.type}-received`, {
        call: this.id, ufrag: ufragOf(description), candidates: candidateCount(description),
      });
      const collision = description.type === "offer" &&
        (this.makingOffer || pc.signalingState !== "stable");
      this.ignoreOffer = !this.polite && collision;
      if (this.ignoreOffer) {
        emit("offer-ignored", { call: this.id });
        return;
      }
      await pc.setRemoteDescription(description); // rolls back our own offer when polite
      if (description.type === "offer") {
        this.noteRemoteHold(description.sdp);
        if (!this.trackAdded) {
          const stream = await microphone();
          for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
          this.trackAdded = true;
        }
        await pc.setLocalDescription();
        this.sendDescription(pc.localDescription);
      }
    }

    // (1.2) The peer holds us when its offer stops receiving (RFC 3264 section 8.4).
    noteRemoteHold(sdp) {
      const audio = sdp.split(/\r?\nm=/).find((m) => m.startsWith("audio ") || m.startsWith("m=audio "));
      const held = !!audio && /\r?\na=(inactive|sendonly)\b/.test(audio);
      if (held !== this.heldRemotely) {
        this.heldRemotely = held;
        emit("hold", { call: this.id, on: held, by: "remote" });
      }
    }

    async onCandidate(candidate) {
      const pc = this.pc;
      if (!pc || pc.signalingState === "closed") return;
      if (candidate && candidate.candidate) this.candidatesReceived += 1;
      else this.endOfCandidatesReceived += 1;
      try {
        await pc.addIceCandidate(candidate && candidate.candidate ? candidate : null);
      } catch (err) {
        if (!this.ignoreOffer) {
          this.candidateErrors.push(String(err.message || err));
          emit("error", { code: "bad-candidate", message: String(err.message || err), call: this.id });
        }
      }
    }

    onTrack(ev) {
      watchFrames(this, ev.receiver);
      const stream = ev.streams[0] || new MediaStream([ev.track]);
      this.remoteStream = stream;
      // Chrome feeds a remote stream to Web Audio only while a media element plays it.
      ui.audioElement.srcObject = stream;
      ui.audioElement.play().catch(() => {});
      this.audio = new LevelMeter(stream);
      emit("track", { call: this.id, kind: ev.track.kind });
    }

    onFrame(t) {
      this.arrivals.push(t);
      if (this.arrivals.length > MAX_ARRIVALS) this.arrivals.splice(0, this.arrivals.length / 2);
    }

    // Longest interval between received frames inside [from, to] (page clock, ms).
    maxGap(from = 0, to = Infinity) {
      let best = 0;
      let previous = null;
      for (const t of this.arrivals) {
        if (t < from) {
          previous = t;
          continue;
        }
        if (t > to) break;
        if (previous !== null) best = Math.max(best, t - previous);
        previous = t;
      }
      return best;
    }

    watchTransport() {
      const pc = this.pc;
      const sender = pc && pc.getSenders()[0];
      const receiver = pc && pc.getReceivers()[0];
      const dtls = (sender && sender.transport) || (receiver && receiver.transport);
      const ice = dtls && dtls.iceTransport;
      if (!ice || ice === this.iceTransport) return;
      this.iceTransport = ice;
      ice.onselectedcandidatepairchange = () => {
        const pair = ice.getSelectedCandidatePair();
        if (!pair) return;
        this.selectedPair = { local: candidateFields(pair.local), remote: candidateFields(pair.remote), t: now() };
        this.pairs.push(this.selectedPair);
        emit("selected-pair", { local: this.selectedPair.local, remote: this.selectedPair.remote });
        ui.render();
      };
    }

    close() {
      if (this.audio) this.audio.close();
      if (this.pc) this.pc.close();
    }

    summary() {
      const pc = this.pc;
      return {
        id: this.id,
        remote: this.remote,
        direction: this.direction,
        polite: this.polite,
        state: this.state,
        signalingState: pc ? pc.signalingState : null,
        iceGatheringState: pc ? pc.iceGatheringState : null,
        iceConnectionState: pc ? pc.iceConnectionState : null,
        connectionState: pc ? pc.connectionState : null,
        localUfrag: pc ? ufragOf(pc.currentLocalDescription) : null,
        remoteUfrag: pc ? ufragOf(pc.currentRemoteDescription) : null,
        selectedPair: this.selectedPair,
        setupMs: this.connectedAt === null ? null : this.connectedAt - this.startedAt,
        candidatesSent: this.candidatesSent,
        endOfCandidatesSent: this.endOfCandidatesSent,
        candidatesReceived: this.candidatesReceived,
        endOfCandidatesReceived: this.endOfCandidatesReceived,
        candidateErrors: [...this.candidateErrors],
        framesReceived: this.arrivals.length,
        frameCounting: this.frameCounting,
        audio: this.audio ? this.audio.summary() : null,
        heldLocally: !!this.heldLocally,
        heldRemotely: !!this.heldRemotely,
      };
    }
  }

  // Received audio energy: RMS of the remote stream through an AnalyserNode.
  class LevelMeter {
    constructor(stream) {
      this.context = new AudioContext();
      this.analyser = this.context.createAnalyser();
      this.analyser.fftSize = 2048;
      this.source = this.context.createMediaStreamSource(stream);
      this.source.connect(this.analyser);
      this.buffer = new Float32Array(this.analyser.fftSize);
      this.level = 0;
      this.maxLevel = 0;
      this.loudSamples = 0;
      this.samples = 0;
      this.context.resume().catch(() => {});
      this.timer = setInterval(() => this.sample(), 50);
    }

    sample() {
      this.analyser.getFloatTimeDomainData(this.buffer);
      let sum = 0;
      for (const x of this.buffer) sum += x * x;
      this.level = Math.sqrt(sum / this.buffer.length);
      this.maxLevel = Math.max(this.maxLevel, this.level);
      this.samples += 1;
      if (this.level > 0.01) this.loudSamples += 1;
      ui.level(this.level);
    }

    summary() {
      return {
        level: this.level, maxLevel: this.maxLevel, loudSamples: this.loudSamples,
        samples: this.samples, contextState: this.context.state,
      };
    }

    close() {
      clearInterval(this.timer);
      this.context.close().catch(() => {});
    }
  }

  async function call(to) {
    if (!state.user) throw new Error("not registered");
    if (state.call) throw new Error(`already in a call with ${state.call.remote}`);
    if (to === state.user) throw new Error("you cannot call yourself");
    await microphone();
    const c = new Call(newCallId(), to, "outgoing");
    state.call = c;
    emit("call-state", { call: c.id, state: "dialing", to });
    if (!send({ type: "invite", call: c.id, to })) endCall(c, "signaling-unavailable");
    ui.render();
    return c.id;
  }

  function onInvite(msg) {
    if (state.call) {
      send({ type: "decline", call: msg.call, reason: "busy" });
      emit("missed", { call: msg.call, from: msg.from, reason: "busy" });
      return;
    }
    const c = new Call(msg.call, msg.from, "incoming");
    state.call = c;
    emit("incoming", { call: c.id, from: msg.from });
    emit("call-state", { call: c.id, state: "incoming", from: msg.from });
    send({ type: "ringing", call: c.id });
    if (state.autoAnswer) answer().catch((err) => emit("error", { code: "internal", message: String(err) }));
  }

  async function answer() {
    const c = state.call;
    if (!c || c.state !== "incoming") throw new Error("there is no ringing call to answer");
    await microphone();
    c.startMedia(); // the microphone is added with the first remote offer
    c.setState("active");
    send({ type: "accept", call: c.id });
    ui.render();
  }

  function decline(reason = "declined") {
    const c = state.call;
    if (!c || c.state !== "incoming") throw new Error("there is no ringing call to decline");
    send({ type: "decline", call: c.id, reason });
    endCall(c, reason);
  }

  function hangup() {
    const c = state.call;
    if (!c) throw new Error("there is no call to hang up");
    send({ type: "hangup", call: c.id });
    endCall(c, "hangup");
  }

  function endCall(c, reason) {
    if (state.call === c) state.call = null;
    c.setState("ended", reason);
    c.close();
    state.lastCall = c;
    ui.render();
  }

  function restartIce() {
    const c = state.call;
    if (!c || !c.pc) throw new Error("there is no call whose ICE could restart");
    c.pc.restartIce();
    emit("restart-ice", { call: c.id });
  }

  // (1.2) Hold by a direction change: inactive, then sendrecv again on resume.
  function hold(on) {
    const c = state.call;
    if (!c || !c.pc) throw new Error("there is no call to hold");
    for (const t of c.pc.getTransceivers()) t.direction = on ? "inactive" : "sendrecv";
    c.heldLocally = !!on;
    emit("hold", { call: c.id, on: !!on, by: "local" });
  }

  // (1.2) RFC 4733 digits through Chromium's RTCDTMFSender.
  function dtmf(digits, durationMs = 100) {
    const c = state.call;
    const sender = c && c.pc && c.pc.getSenders().find((s) => s.track && s.track.kind === "audio");
    if (!sender || !sender.dtmf || !sender.dtmf.canInsertDTMF) {
      throw new Error("DTMF cannot be sent now (no call, or no telephone-event negotiated)");
    }
    sender.dtmf.insertDTMF(digits, durationMs, 70);
    emit("dtmf-sent", { call: c.id, digits });
  }

  function mute(on) {
    if (state.stream) for (const t of state.stream.getAudioTracks()) t.enabled = !on;
    emit("mute", { on: !!on });
  }

  async function stats() {
    const c = state.call;
    if (!c || !c.pc) return null;
    const report = await c.pc.getStats();
    let inbound = null;
    let outbound = null;
    let transport = null;
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s;
      else if (s.type === "outbound-rtp" && s.kind === "audio") outbound = s;
      else if (s.type === "transport") transport = s;
    });
    const pairStats = transport && report.get(transport.selectedCandidatePairId);
    const side = (id) => {
      const s = id && report.get(id);
      return s ? { type: s.candidateType, protocol: s.protocol, address: s.address, port: s.port } : null;
    };
    return {
      packetsReceived: inbound ? inbound.packetsReceived : 0,
      bytesReceived: inbound ? inbound.bytesReceived : 0,
      packetsLost: inbound ? inbound.packetsLost : 0,
      jitterMs: inbound && inbound.jitter !== undefined ? inbound.jitter * 1000 : null,
      totalSamplesReceived: inbound ? inbound.totalSamplesReceived : 0,
      concealedSamples: inbound ? inbound.concealedSamples : 0,
      audioLevel: inbound ? inbound.audioLevel : null,
      packetsSent: outbound ? outbound.packetsSent : 0,
      bytesSent: outbound ? outbound.bytesSent : 0,
      rttMs: pairStats && pairStats.currentRoundTripTime !== undefined
        ? pairStats.currentRoundTripTime * 1000 : null,
      selectedPair: pairStats
        ? { local: side(pairStats.localCandidateId), remote: side(pairStats.remoteCandidateId) }
        : null,
      framesReceived: c.arrivals.length,
      audio: c.audio ? c.audio.summary() : null,
    };
  }

  // Holds outgoing signaling messages, then sends them in order: a slow network
  // on demand, so tests can make both sides' offers cross (glare) every time.
  function holdSignaling(on) {
    if (on) {
      if (!state.held) state.held = [];
      return 0;
    }
    const held = state.held || [];
    state.held = null;
    for (const message of held) send(message);
    return held.length;
  }

  // --- the page ---------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  const ui = {
    audioElement: null,
    ready: false,

    init() {
      this.audioElement = $("remote-audio");
      $("server").placeholder = defaultServer();
      $("name").value = params.get("user") || "";
      $("login-form").addEventListener("submit", (ev) => {
        ev.preventDefault();
        const user = $("name").value.trim();
        connect(user, { server: $("server").value.trim(), token: $("token").value })
          .catch((err) => emit("error", { code: "connect", message: err.message }));
      });
      $("dial-form").addEventListener("submit", (ev) => {
        ev.preventDefault();
        const to = $("dial").value.trim();
        if (to) this.guard(() => call(to));
      });
      $("answer").addEventListener("click", () => this.guard(answer));
      $("decline").addEventListener("click", () => this.guard(() => decline()));
      $("hangup").addEventListener("click", () => this.guard(hangup));
      $("restart").addEventListener("click", () => this.guard(restartIce));
      $("mute").addEventListener("change", (ev) => mute(ev.target.checked));
      $("switch-region").addEventListener("click", () => this.guard(() => switchRegion($("region").value)));
      setInterval(() => this.refreshStats(), 1000);
      this.ready = true;
      this.render();
    },

    // A refused action is shown in the log, never thrown at the person.
    guard(action) {
      Promise.resolve()
        .then(action)
        .catch((err) => emit("error", { code: "refused", message: String(err.message || err) }));
    },

    log(name, fields) {
      if (!this.ready) return;
      const li = document.createElement("li");
      const time = (now() / 1000).toFixed(3);
      const detail = Object.entries(fields)
        .filter(([, v]) => v !== undefined && v !== null)
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
        .join(" ");
      li.textContent = `${time} ${name} ${detail}`;
      if (name === "error") li.className = "error";
      const list = $("log");
      list.prepend(li);
      while (list.children.length > 200) list.lastChild.remove();
    },

    level(value) {
      if (this.ready) $("level").value = value;
    },

    render() {
      if (!this.ready) return;
      const registered = state.user !== null;
      const status = $("status");
      status.textContent = registered ? `online as ${state.user}` : "offline";
      status.dataset.state = registered ? "online" : "offline";
      $("login").hidden = registered;
      $("people").hidden = !registered;
      const list = $("online");
      list.replaceChildren(
        ...[...state.online].sort().map((name) => {
          const li = document.createElement("li");
          const label = document.createElement("span");
          label.textContent = name;
          const button = document.createElement("button");
          button.textContent = "Call";
          button.disabled = state.call !== null;
          button.addEventListener("click", () => this.guard(() => call(name)));
          li.append(label, button);
          return li;
        }),
      );
      const c = state.call;
      $("call").hidden = c === null;
      const select = $("region");
      const names = state.regions.map((r) => r.name);
      if (select.dataset.names !== names.join("\n")) {
        select.dataset.names = names.join("\n");
        select.replaceChildren(...names.map((n) => new Option(n, n)));
      }
      if (state.region) select.value = state.region;
      $("switch-region").disabled = names.length === 0;
      if (!c) return;
      $("call-peer").textContent = c.direction === "outgoing" ? `to ${c.remote}` : `from ${c.remote}`;
      $("call-state").textContent = c.state;
      $("answer").hidden = c.state !== "incoming";
      $("decline").hidden = c.state !== "incoming";
      const pc = c.pc;
      $("st-signaling").textContent = pc ? pc.signalingState : "–";
      $("st-gathering").textContent = pc ? pc.iceGatheringState : "–";
      $("st-ice").textContent = pc ? pc.iceConnectionState : "–";
      $("st-connection").textContent = pc ? pc.connectionState : "–";
      const pair = c.selectedPair;
      const text = (s) => `${s.type} ${s.protocol} ${s.address}:${s.port}`;
      $("st-pair").textContent = pair ? `${text(pair.local)} ⇄ ${text(pair.remote)}` : "–";
    },

    async refreshStats() {
      if (!state.call || !state.call.pc) return;
      const s = await stats();
      if (!s) return;
      $("st-received").textContent =
        `${s.packetsReceived} packets, ${s.packetsLost} lost` +
        (s.rttMs === null ? "" : `, rtt ${s.rttMs.toFixed(1)} ms`);
    },
  };

  // --- the API for the console and for tests ---------------------------------------------

  window.softphone = {
    connect,
    call,
    answer,
    decline,
    hangup,
    restartIce,
    switchRegion,
    setRegions: (regions) => setRegions(regions, true),
    mute,
    hold,
    dtmf,
    stats,
    now,
    holdSignaling,
    get user() { return state.user; },
    get online() { return [...state.online].sort(); },
    get regions() { return state.regions.map((r) => r.name); },
    get region() { return state.region; },
    get current() { return state.call ? state.call.summary() : null; },
    get lastCall() { return state.lastCall ? state.lastCall.summary() : null; },
    get pc() { return state.call ? state.call.pc : null; },
    get events() { return state.events; },
    get autoAnswer() { return state.autoAnswer; },
    set autoAnswer(on) { state.autoAnswer = !!on; },
    maxGap: (from, to) => (state.call ? state.call.maxGap(from, to) : null),
    arrivals: (from = 0) => (state.call ? state.call.arrivals.filter((t) => t >= from) : []),
    onEvent(listener) { state.listeners.push(listener); },
  };

  function start() {
    ui.init();
    const regions = params.get("regions");
    if (regions) {
      try {
        setRegions(JSON.parse(regions), true);
      } catch (err) {
        emit("error", { code: "bad-regions", message: `regions parameter: ${err.message}` });
      }
    }
    const user = params.get("user");
    if (user && params.get("autoconnect") !== "0") {
      connect(user).catch((err) => emit("error", { code: "connect", message: err.message }));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
