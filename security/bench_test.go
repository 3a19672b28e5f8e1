package security

import (
	"strconv"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func BenchmarkAuthorize(b *testing.B) {
	m := newAuthzManager(b, testPermissions)
	s := &Subject{User: "u", Roles: []string{"clerk", "eu"}}
	off := newAuthzManager(b, nil)
	b.Run("hit", func(b *testing.B) {
		_ = m.Authorize(s, Send, "orders.eu.new")
		b.ReportAllocs()
		for b.Loop() {
			if m.Authorize(s, Send, "orders.eu.new") != nil {
				b.Fatal("denied")
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		_ = m.Authorize(s, Send, "orders.eu.new")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if m.Authorize(s, Send, "orders.eu.new") != nil {
					b.Fatal("denied")
				}
			}
		})
	})
	b.Run("hit-parallel-own-subjects", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			s := &Subject{User: "u", Roles: []string{"clerk"}}
			for pb.Next() {
				if m.Authorize(s, Send, "orders.new") != nil {
					b.Fatal("denied")
				}
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		names := make([]string, addrCacheSlots/2)
		for i := range names {
			names[i] = "orders.eu." + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// a fresh table every len(names) iterations keeps every lookup a miss
			if i%len(names) == 0 {
				b.StopTimer()
				m.perms.cache.clear()
				b.StartTimer()
			}
			_ = m.Allowed(s, Send, names[i%len(names)])
			i++
		}
	})
	b.Run("wildcard-miss", func(b *testing.B) {
		names := make([]string, addrCacheSlots/2)
		for i := range names {
			names[i] = "orders.us.x" + strconv.Itoa(i) + ".*"
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%len(names) == 0 {
				b.StopTimer()
				m.perms.cache.clear()
				b.StartTimer()
			}
			_ = m.Allowed(s, Consume, names[i%len(names)])
			i++
		}
	})
	b.Run("off", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = off.Authorize(s, Send, "orders.eu.new")
		}
	})
}

func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	uf := &UsersFile{}
	h, _ := HashPasswordCost("pw", bcrypt.DefaultCost)
	uf.Users = append(uf.Users, User{Name: "bob", Password: h, Roles: []string{"r"}})
	if err := uf.Save(dir + "/users.yaml"); err != nil {
		b.Fatal(err)
	}
	m, err := New(Config{UsersFile: "users.yaml"}, dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	good := Credentials{Username: "bob", Password: "pw", HasPassword: true}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Authenticate(b.Context(), good); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bcrypt-default-cost", func(b *testing.B) {
		for b.Loop() {
			m.authCache.clear()
			if _, err := m.Authenticate(b.Context(), good); err != nil {
				b.Fatal(err)
			}
		}
	})
}
