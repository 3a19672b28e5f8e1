#!/usr/bin/env python3
"""A durable subscription with a selector, through Qpid Proton's Python API.

--mode attach:      subscribe, then detach (closed=false) and leave
--mode receive:     resume the subscription and print COUNT message bodies
--mode unsubscribe: resume it, then close the link (closed=true): ends it
"""
import argparse

from proton.handlers import MessagingHandler
from proton.reactor import Container, DurableSubscription, Selector


class Sub(MessagingHandler):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.got = 0
        self.rcv = None

    def on_start(self, event):
        conn = event.container.connect(self.args.url)
        opts = [DurableSubscription()]
        if self.args.selector:
            opts.append(Selector(self.args.selector))
        self.rcv = event.container.create_receiver(
            conn, self.args.topic, name=self.args.name, options=opts)

    def on_link_opened(self, event):
        if event.link.name != self.args.name:
            return
        print("attached", event.link.remote_source.address, flush=True)
        if self.args.mode == "attach":
            self.rcv.detach()
            event.connection.close()
        elif self.args.mode == "unsubscribe":
            self.rcv.close()

    def on_link_closed(self, event):
        if event.link.name == self.args.name and self.args.mode == "unsubscribe":
            print("unsubscribed", flush=True)
            event.connection.close()

    def on_message(self, event):
        print("body", event.message.body, flush=True)
        self.got += 1
        if self.got == self.args.count:
            self.rcv.detach()
            event.connection.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--container", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--selector", default="")
    p.add_argument("--mode", choices=["attach", "receive", "unsubscribe"], required=True)
    p.add_argument("--count", type=int, default=0)
    args = p.parse_args()
    c = Container(Sub(args))
    c.container_id = args.container
    c.run()


main()
