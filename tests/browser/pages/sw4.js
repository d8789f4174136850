// Drives @signalwire/js 4.0.0-beta.12 (the group dialect). This generation has no `chat`
// namespace: a conversation is reached through the directory's Address object.
//   chat.join + getMessages  -> address.textMessages$ (joins, then pages the history);
//                               collection.hasMore / loadMore() page on (links.next)
//   chat.subscribe           -> the same collection's values$: live events are upserted
//   chat.sendMessage         -> address.sendText(text)
"use strict";
const until = (observable, accept, what) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 20000);
    const subscription = observable.subscribe({
      next(value) {
        if (accept(value)) {
          clearTimeout(timer);
          resolve(value);
          queueMicrotask(() => subscription.unsubscribe());
        }
      },
      error(error) { clearTimeout(timer); reject(error); },
    });
  });

window.chatTest = {
  events: [],
  errors: [],
  async connect(token) {
    const { SignalWire: Client, StaticCredentialProvider } = SignalWire;
    this.client = new Client(new StaticCredentialProvider({ token }), this.options || {});
    this.client.errors$.subscribe((error) => this.errors.push(String(error && error.stack || error)));
    await until(this.client.ready$, (ready) => ready === true, "ready$");
    const directory = await until(this.client.directory$, (d) => d !== undefined, "directory$");
    this.directory = directory;
    return { user: this.client.user.addresses.map((a) => a.id) };
  },
  // Join and read the first page of the history: the Address's textMessages$ collection.
  async open(addressId) {
    this.address = await until(this.directory.get$(addressId), (a) => a !== undefined, "address");
    this.messages = await until(this.address.textMessages$, (c) => c !== undefined, "textMessages$");
    await until(this.messages.loading$, (loading) => loading === false, "first page");
    this.messages.values$.subscribe((values) => { this.latest = values; });
    return this.snapshot();
  },
  snapshot() {
    const values = this.messages.values;
    return {
      hasMore: this.messages.hasMore,
      loading: this.messages.loading,
      items: values.map((m) => ({ id: m.id, text: m.text, created: m.created })),
    };
  },
  async loadMore() {
    const before = this.messages.values.length;
    this.messages.loadMore();
    await until(this.messages.loading$, (loading) => loading === false, "next page");
    return this.snapshot();
  },
  async sender(messageId) {
    const message = this.messages.values.find((m) => m.id === messageId);
    const address = await until(message.fromAddress$, (a) => a !== undefined, "fromAddress$");
    return { id: address.id, displayName: address.displayName };
  },
  async send(text) {
    return (await this.address.sendText(text)) ?? null;
  },
  // The address directory: an address id looked up by its name.
  async addressByName(name) {
    return (await this.directory.findAddressIdByURI(name)) ?? null;
  },
  async close() {
    await this.client.disconnect();
    return true;
  },
};
