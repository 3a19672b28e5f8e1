// Drives Junction with rhea (the Node.js AMQP 1.0 client): sends three
// messages to a queue and waits for their acceptance, reads them back on
// a receiver, then does one request/reply through a dynamic receiver and
// an anonymous-relay sender. Prints one line per step; exits non-zero on
// any failure. Usage: node rhea_check.js PORT QUEUE
'use strict';
const rhea = require('rhea');

const port = Number(process.argv[2]);
const queue = process.argv[3];
const container = rhea.create_container({ id: 'rhea-check' });
const fail = (why) => { console.log('FAIL ' + why); process.exit(1); };
setTimeout(() => fail('timed out'), 15000).unref();

const conn = container.connect({ host: '127.0.0.1', port: port, reconnect: false });
conn.on('connection_error', (ctx) => fail('connection error ' + JSON.stringify(ctx.connection.error)));
conn.on('disconnected', (ctx) => { if (!done) fail('disconnected ' + (ctx.error || '')); });
let done = false;

const sender = conn.open_sender(queue);
let sent = 0, accepted = 0;
sender.on('sendable', () => {
  while (sender.sendable() && sent < 3) {
    sent++;
    sender.send({ body: 'rhea ' + sent, application_properties: { n: sent }, durable: true });
  }
});
sender.on('accepted', () => {
  accepted++;
  if (accepted === 3) {
    console.log('accepted 3');
    receive();
  }
});
sender.on('rejected', (ctx) => fail('rejected ' + JSON.stringify(ctx.delivery.remote_state)));

function receive() {
  const receiver = conn.open_receiver({ source: queue, credit_window: 10 });
  let got = [];
  receiver.on('message', (ctx) => {
    got.push(ctx.message.body + '/' + ctx.message.application_properties.n);
    if (got.length === 3) {
      console.log('received ' + got.join(','));
      receiver.close();
      requestReply();
    }
  });
}

function requestReply() {
  const replies = conn.open_receiver({ source: { dynamic: true } });
  const relay = conn.open_sender({ target: {} });
  replies.on('receiver_open', (ctx) => {
    const addr = ctx.receiver.source.address;
    if (!addr) fail('dynamic node without an address');
    relay.send({ to: addr, body: 'reply via relay', correlation_id: 'c-1' });
  });
  replies.on('message', (ctx) => {
    console.log('reply ' + ctx.message.body + ' ' + ctx.message.correlation_id);
    done = true;
    conn.close();
  });
}
conn.on('connection_close', () => { if (done) process.exit(0); });
