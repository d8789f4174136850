// Drives @signalwire/js 3.28.0 (the address dialect) through its public `client.chat` API:
// SignalWire({token}) connects the socket; chat.join / subscribe / sendMessage / getMessages.
"use strict";
window.chatTest = {
  events: [],
  async connect(token) {
    this.client = await SignalWire.SignalWire({ token, logLevel: "warn" });
    return Object.keys(this.client.chat).sort();
  },
  async join(addressId) {
    return await this.client.chat.join({ addressId });
  },
  async subscribe(addressId) {
    const onMessage = (message) => this.events.push(JSON.parse(JSON.stringify(message)));
    this.subscription = await this.client.chat.subscribe({ addressId, onMessage });
    return Object.keys(this.subscription).sort();
  },
  async send(addressId, text) {
    return await this.client.chat.sendMessage({ addressId, text });
  },
  // Every page of getMessages, following nextPage() while hasNext (at most 50 pages).
  async history(addressId, pageSize) {
    const pages = [];
    let page = await this.client.chat.getMessages({ addressId, pageSize });
    for (let i = 0; i < 50 && page; i++) {
      pages.push({
        data: page.data.map((m) => ({ id: m.id, text: m.text, conversation_id: m.conversation_id,
                                      subtype: m.subtype })),
        hasNext: page.hasNext,
        hasPrev: page.hasPrev,
      });
      if (!page.hasNext) break;
      page = await page.nextPage();
    }
    return pages;
  },
  // The address directory: one address looked up by its name.
  async addressByName(name) {
    return (await this.client.address.getAddress({ name })).id;
  },
  async close() {
    this.subscription.unsubscribe();
    await this.client.disconnect();
    return true;
  },
};
