#!/usr/bin/env python3
"""The README's monitor table: six PCMU/PCMA streams for 5 s on loopback with seeded loss
(0, 1, 3, 8, 0, 15 %), jitter (0-60 ms) and digital silence on the fifth, watched by
`jitterplay monitor` with a 60-200 ms buffer. Usage: cargo build --release && python3 scripts/monitor_readme_table.py"""
import socket, time, subprocess, struct, random, math
base=47100; n=6
p=subprocess.Popen([__import__("os").path.join(__import__("os").path.dirname(__import__("os").path.dirname(__import__("os").path.abspath(__file__))), "target/release/jitterplay"),"monitor",f"rtp://127.0.0.1:{base}-{base+2*n-2}","--duration","7s","--target-min","60ms","--target-max","200ms"],stdout=subprocess.PIPE)
time.sleep(1)
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
rng=random.Random(3)
loss=[0,0.01,0.03,0.08,0.0,0.15]
jit=[0,0.002,0.01,0.02,0.06,0.0]
events=[]
for k in range(250):
    for i in range(n):
        if rng.random()<loss[i] and 0<k<249: continue
        pay=bytes(0xff if i==4 and 50<k<250 else (0x20+int(20*math.sin(k*160+j))) & 0xff for j in range(160))
        events.append((k*0.02+rng.random()*jit[i], struct.pack("!BBHII",0x80,0 if i!=5 else 8,k,k*160,0x7000+i)+pay, base+2*i))
events.sort(key=lambda e:e[0])
t0=time.time()
for t,b,port in events:
    d=t0+t-time.time()
    if d>0: time.sleep(d)
    s.sendto(b,("127.0.0.1",port))
print(p.communicate()[0].decode())
