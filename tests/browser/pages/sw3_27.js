// Drives @signalwire/js 3.27.0 (the address dialect, before `client.chat` existed) through its
// `client.conversation` namespace: SignalWire({token}) then connect(); conversation.subscribe
// (every conversation event), sendMessage (no join: sending creates the conversation),
// getConversationMessages with hasNext / nextPage().
"use strict";
window.chatTest = {
  events: [],
  async connect(token) {
    this.client = await SignalWire.SignalWire({ token, logLevel: "warn" });
    await this.client.connect();
    await this.client.conversation.subscribe((event) =>
      this.events.push(JSON.parse(JSON.stringify(event))));
    return Object.keys(this.client.conversation).sort();
  },
  async send(addressId, text) {
    return await this.client.conversation.sendMessage({ addressId, text });
  },
  // Every page of getConversationMessages, following nextPage() while hasNext (at most 50).
  async history(addressId, pageSize) {
    const pages = [];
    let page = await this.client.conversation.getConversationMessages({ addressId, pageSize });
    for (let i = 0; i < 50 && page; i++) {
      pages.push({ ids: page.data.map((m) => m.id), hasNext: page.hasNext, hasPrev: page.hasPrev });
      if (!page.hasNext) break;
      page = await page.nextPage();
    }
    return pages;
  },
  async close() {
    await this.client.disconnect();
    return true;
  },
};
