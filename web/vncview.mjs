// The graphical console of the VM page: noVNC (vendored from npm at build time, mk/npm.sh
// --web; its modules are served under /ui/novnc/ and loaded only when a console opens) on
// the VM's VNC WebSocket (GET /api/v1/vms/NAME/console/vnc, control permission; the
// browser's WebSocket carries the session cookie login set). Ctrl-Alt-Del and full screen.
// The guest's screen is a canvas noVNC draws, scaled to the pane.

export class GraphicalConsole {
  // parent: the element to fill; url: the WebSocket's; onNote(text): its state, for people.
  constructor(parent, url, { onNote = () => {} } = {}) {
    Object.assign(this, { url, onNote });
    this.screen = document.createElement('div');
    this.screen.className = 'vnc-screen';
    this.screen.setAttribute('aria-label', 'Graphical console');
    parent.replaceChildren(this.screen);
    parent.vsrvConsole = this;       // for the page's tests (canvas(), below)
    this.rfb = null;
    this.state = 'closed';           // closed, connecting, open
  }

  get open() { return this.state === 'open'; }

  async connect() {
    if (this.rfb)
      return;
    this.state = 'connecting';
    this.onNote('Connecting to the display…');
    const { default: RFB } = await import('./novnc/core/rfb.js');
    if (this.state !== 'connecting')          // closed meanwhile
      return;
    const rfb = new RFB(this.screen, this.url, { wsProtocols: ['binary'] });
    rfb.scaleViewport = true;
    rfb.focusOnClick = true;
    rfb.addEventListener('connect', () => {
      this.state = 'open';
      this.onNote('Connected: keys and the pointer go to the VM while the screen has the focus.');
    });
    rfb.addEventListener('disconnect', (ev) => {
      if (this.rfb === rfb)
        this.rfb = null;
      this.state = 'closed';
      this.onNote(ev.detail && ev.detail.clean ? 'The display closed.' : 'The display is not available.');
    });
    this.rfb = rfb;
  }

  disconnect() {
    this.state = 'closed';
    if (this.rfb) {
      const r = this.rfb;
      this.rfb = null;
      r.disconnect();
    }
  }

  ctrlAltDel() {
    if (this.rfb)
      this.rfb.sendCtrlAltDel();
  }

  fullScreen() {
    if (this.screen.requestFullscreen)
      this.screen.requestFullscreen().catch(() => {});
    if (this.rfb)
      this.rfb.focus();
  }

  // The canvas noVNC draws the guest's screen into (null before it connects).
  canvas() { return this.screen.querySelector('canvas'); }
}
