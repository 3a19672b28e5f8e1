package main

import (
	"bufio"
	"context"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/spf13/cobra"
)

func mqttOptions(f clientFlags, addr string) *paho.ClientOptions {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetConnectTimeout(10 * time.Second).SetAutoReconnect(false)
	if f.user != "" {
		o.SetUsername(f.user).SetPassword(f.password)
	}
	if f.clientID != "" {
		o.SetClientID(f.clientID).SetCleanSession(false)
	} else {
		o.SetClientID(fmt.Sprintf("junction-cli-%d", time.Now().UnixNano()))
	}
	return o
}

func mqttConnect(o *paho.ClientOptions) (paho.Client, error) {
	c := paho.NewClient(o)
	t := c.Connect()
	if !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		err := t.Error()
		if err == nil {
			err = fmt.Errorf("timed out")
		}
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return c, nil
}

func mqttSend(cmd *cobra.Command, f sendFlags, addr, topic string, bodies <-chan string) error {
	if f.qos < 0 || f.qos > 2 {
		return fmt.Errorf("invalid --qos %d", f.qos)
	}
	c, err := mqttConnect(mqttOptions(f.clientFlags, addr))
	if err != nil {
		return err
	}
	defer c.Disconnect(250)
	n := 0
	for body := range bodies {
		for i := 0; i < f.count; i++ {
			t := c.Publish(topic, byte(f.qos), f.retain, body)
			if !t.WaitTimeout(30*time.Second) || t.Error() != nil {
				return fmt.Errorf("publish: %v", t.Error())
			}
			n++
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "published %d message(s) to %s\n", n, topic)
	return nil
}

func mqttReceive(ctx context.Context, cmd *cobra.Command, f receiveFlags, addr, filter string) error {
	if f.qos < 0 || f.qos > 2 {
		return fmt.Errorf("invalid --qos %d", f.qos)
	}
	msgs := make(chan paho.Message, 1024)
	o := mqttOptions(f.clientFlags, addr)
	lost := make(chan error, 1)
	o.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	c, err := mqttConnect(o)
	if err != nil {
		return err
	}
	defer c.Disconnect(250)
	t := c.Subscribe(filter, byte(f.qos), func(_ paho.Client, m paho.Message) { msgs <- m })
	if !t.WaitTimeout(15*time.Second) || t.Error() != nil {
		return fmt.Errorf("subscribe: %v", t.Error())
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	defer out.Flush()
	for n := 0; f.count == 0 || n < f.count; n++ {
		var idle <-chan time.Time
		if f.timeout > 0 {
			idle = time.After(f.timeout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			return nil
		case err := <-lost:
			return fmt.Errorf("connection lost: %w", err)
		case m := <-msgs:
			if f.headers {
				fmt.Fprintf(out, "topic: %s\nqos: %d\nretained: %v\n", m.Topic(), m.Qos(), m.Retained())
			}
			out.Write(m.Payload())
			out.WriteByte('\n')
			out.Flush()
		}
	}
	return nil
}
