// Keyplane Workbench: xterm.js attached to the terminal WebSocket of this browser session.
// Protocol (see README): binary frames carry terminal bytes both ways; a text frame starting
// with U+001E carries a JSON control message, {"type":"resize","cols":C,"rows":R}.
'use strict';
(function () {
  const CONTROL_MARKER = '\u001e';
  const status = document.getElementById('status');
  const terminal = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  terminal.loadAddon(fit);
  terminal.open(document.getElementById('terminal'));
  fit.fit();
  window.keyplaneTerminal = terminal;

  const address = new URL('../v1/session-terminal', window.location.href);
  address.protocol = address.protocol === 'https:' ? 'wss:' : 'ws:';
  address.search = '';
  address.hash = '';
  // A reload may arrive before the previous page's terminal has ended (one terminal per
  // browser session): a socket refused before it opened is retried a few times.
  const RETRIES = 5;
  let socket = null;
  const encoder = new TextEncoder();

  function sendResize() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(CONTROL_MARKER + JSON.stringify({ type: 'resize', cols: terminal.cols, rows: terminal.rows }));
    }
  }
  function connect(attempt) {
    let opened = false;
    socket = new WebSocket(address.href);
    socket.binaryType = 'arraybuffer';
    socket.addEventListener('open', function () {
      opened = true;
      status.textContent = 'connected';
      sendResize();
      terminal.focus();
    });
    socket.addEventListener('message', function (event) {
      if (typeof event.data === 'string') {
        terminal.write(event.data);
      } else {
        terminal.write(new Uint8Array(event.data));
      }
    });
    socket.addEventListener('close', function (event) {
      if (!opened && attempt < RETRIES) {
        status.textContent = 'connecting… (retry ' + (attempt + 1) + ')';
        window.setTimeout(function () { connect(attempt + 1); }, 1000);
        return;
      }
      status.textContent = 'closed' + (event.reason ? ': ' + event.reason : ' (code ' + event.code + ')');
      status.className = 'closed';
      terminal.write('\r\n\x1b[2m[session closed' + (event.reason ? ': ' + event.reason : '') + ']\x1b[0m\r\n');
    });
  }
  connect(0);
  terminal.onData(function (data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(encoder.encode(data));
    }
  });
  terminal.onBinary(function (data) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      const bytes = new Uint8Array(data.length);
      for (let index = 0; index < data.length; index += 1) {
        bytes[index] = data.charCodeAt(index) & 0xff;
      }
      socket.send(bytes);
    }
  });
  terminal.onResize(sendResize);
  window.addEventListener('resize', function () { fit.fit(); });
})();
