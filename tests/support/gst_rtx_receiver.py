#!/usr/bin/python3
"""A GStreamer rtpbin receiver with retransmission (RFC 4588 via rtprtxreceive), for the
interop tests: L16 mono 48 kHz on PT 96, RTX on PT 97.

Usage: gst_rtx_receiver.py RTP_PORT RTCP_BACK_PORT SECONDS OUT_RAW
Receives RTP on RTP_PORT and RTCP on RTP_PORT + 1, sends its RTCP (RRs, NACKs) to
127.0.0.1:RTCP_BACK_PORT, writes the depayloaded S16BE audio to OUT_RAW, and after SECONDS
prints one JSON line with the jitter buffer's and rtprtxreceive's counters.
gst-launch cannot connect rtpbin's request-aux-receiver signal, hence this script.
"""
import json
import os
import threading
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

Gst.init(None)
rtp_port, back_port, seconds, out_path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
out = open(out_path, "wb")
pipeline = Gst.Pipeline.new("rx")
caps = Gst.Caps.from_string(
    "application/x-rtp,media=(string)audio,clock-rate=(int)48000,encoding-name=(string)L16,"
    "encoding-params=(string)1,channels=(int)1,payload=(int)96"
)


def make(factory, **props):
    e = Gst.ElementFactory.make(factory, None)
    for k, v in props.items():
        e.set_property(k.replace("_", "-"), v)
    pipeline.add(e)
    return e


rtpbin = make("rtpbin", do_retransmission=True, latency=1000)
rtpbin.set_property("rtp-profile", 3)  # GST_RTP_PROFILE_AVPF: NACKs go out at once
rtx = Gst.ElementFactory.make("rtprtxreceive", None)
rtx.set_property("payload-type-map", Gst.Structure.new_from_string("application/x-rtp-pt-map,96=(uint)97"))
# rtpbin wants the aux element as a bin with pads named for the session (sink_0, src_0).
aux = Gst.Bin.new(None)
aux.add(rtx)
aux.add_pad(Gst.GhostPad.new("sink_0", rtx.get_static_pad("sink")))
aux.add_pad(Gst.GhostPad.new("src_0", rtx.get_static_pad("src")))
jitterbuffers = []
rtpbin.connect("request-aux-receiver", lambda _bin, _sid: aux)
rtpbin.connect("new-jitterbuffer", lambda _bin, jb, _sid, _ssrc: jitterbuffers.append(jb))
rtp_src = make("udpsrc", address="127.0.0.1", port=rtp_port, caps=caps)
rtcp_src = make("udpsrc", address="127.0.0.1", port=rtp_port + 1)
rtcp_sink = make("udpsink", host="127.0.0.1", port=back_port, sync=False, **{"async": False})
depay = make("rtpL16depay")
sink = make("fakesink", signal_handoffs=True, sync=False)


def on_buffer(_sink, buf, _pad):
    ok, info = buf.map(Gst.MapFlags.READ)
    if ok:
        out.write(bytes(info.data))
        buf.unmap(info)


sink.connect("handoff", on_buffer)
depay.link(sink)
rtp_src.get_static_pad("src").link(rtpbin.request_pad_simple("recv_rtp_sink_0"))
rtcp_src.get_static_pad("src").link(rtpbin.request_pad_simple("recv_rtcp_sink_0"))
rtpbin.request_pad_simple("send_rtcp_src_0").link(rtcp_sink.get_static_pad("sink"))


def on_pad(_bin, pad):
    if pad.get_name().startswith("recv_rtp_src_"):
        pad.link(depay.get_static_pad("sink"))


rtpbin.connect("pad-added", on_pad)
loop = GLib.MainLoop()


def finish():
    stats = {}
    if jitterbuffers:
        s = jitterbuffers[0].get_property("stats")
        for key in ["num-pushed", "num-lost", "num-late", "num-duplicates", "rtx-count", "rtx-success-count"]:
            ok, value = s.get_uint64(key)
            stats[key] = value if ok else None
    for key in ["num-rtx-requests", "num-rtx-packets", "num-rtx-assoc-packets"]:
        stats[key] = rtx.get_property(key)
    out.flush()
    print(json.dumps(stats), flush=True)
    # Teardown has been seen to hang on a loaded machine: the process ends a few seconds later
    # whatever it does.
    threading.Timer(5.0, lambda: os._exit(0)).start()
    pipeline.set_state(Gst.State.NULL)
    out.close()
    loop.quit()
    return False


pipeline.set_state(Gst.State.PLAYING)
print("ready", flush=True)
GLib.timeout_add(int(seconds * 1000), finish)
loop.run()
