#!/usr/bin/python3
"""A GStreamer rtpbin sender with retransmission (RFC 4588 via rtprtxsend), for the interop
tests: a WAV file as L16 on PT 96, retransmissions on PT 97.

Usage: gst_rtx_sender.py WAV HOST RTP_PORT RTCP_LOCAL_PORT
Sends RTP to HOST:RTP_PORT and RTCP to HOST:RTP_PORT + 1 from RTCP_LOCAL_PORT, where it also
receives the receiver's RTCP (RRs, NACKs): one socket both ways, as symmetric RTCP needs.
Prints one JSON line with rtprtxsend's counters when the file has been sent.
gst-launch cannot connect rtpbin's request-aux-sender signal, hence this script.
"""
import json
import os
import threading
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

Gst.init(None)
wav, host, rtp_port, rtcp_local = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pipeline = Gst.Pipeline.new("tx")


def make(factory, **props):
    e = Gst.ElementFactory.make(factory, None)
    for k, v in props.items():
        e.set_property(k.replace("_", "-"), v)
    pipeline.add(e)
    return e


src = make("filesrc", location=wav)
parse = make("wavparse")
convert = make("audioconvert")
pay = make("rtpL16pay", pt=96, min_ptime=20_000_000, max_ptime=20_000_000)
rtpbin = make("rtpbin")
rtpbin.set_property("rtp-profile", 3)  # AVPF: feedback (NACK) is acted on
rtx = Gst.ElementFactory.make("rtprtxsend", None)
rtx.set_property("payload-type-map", Gst.Structure.new_from_string("application/x-rtp-pt-map,96=(uint)97"))
rtx.set_property("max-size-time", 5000)
aux = Gst.Bin.new(None)
aux.add(rtx)
aux.add_pad(Gst.GhostPad.new("sink_0", rtx.get_static_pad("sink")))
aux.add_pad(Gst.GhostPad.new("src_0", rtx.get_static_pad("src")))
rtpbin.connect("request-aux-sender", lambda _bin, _sid: aux)
rtp_sink = make("udpsink", host=host, port=rtp_port, sync=True)
rtcp_src = make("udpsrc", address="127.0.0.1", port=rtcp_local)
rtcp_sink = make("udpsink", host=host, port=rtp_port + 1, sync=False, **{"async": False})
# The RTCP sink sends from the RTCP source's socket, so replies come back to it.
rtcp_src.set_state(Gst.State.READY)
rtcp_sink.set_property("socket", rtcp_src.get_property("used-socket"))
rtcp_sink.set_property("close-socket", False)

src.link(parse)
parse.link(convert)
convert.link_filtered(pay, Gst.Caps.from_string("audio/x-raw,format=S16BE"))
pay.get_static_pad("src").link(rtpbin.request_pad_simple("send_rtp_sink_0"))
rtpbin.get_static_pad("send_rtp_src_0").link(rtp_sink.get_static_pad("sink"))
rtpbin.request_pad_simple("send_rtcp_src_0").link(rtcp_sink.get_static_pad("sink"))
rtcp_src.get_static_pad("src").link(rtpbin.request_pad_simple("recv_rtcp_sink_0"))

loop = GLib.MainLoop()


finishing = False


def linger_then_finish():
    """Linger so that NACKs for the last packets are still answered, then finish (once)."""
    global finishing
    if not finishing:
        finishing = True
        GLib.timeout_add(1500, finish)
    return False


def on_message(_bus, msg):
    if msg.type in (Gst.MessageType.EOS, Gst.MessageType.ERROR):
        if msg.type == Gst.MessageType.ERROR:
            print(json.dumps({"error": str(msg.parse_error()[0])}), flush=True)
        linger_then_finish()


def on_rtp_sink_event(_pad, info):
    # The pipeline's EOS also waits for rtpbin's RTCP branch, whose EOS follows a BYE that
    # rtpsession may schedule late or never: the media is all sent once the RTP sink sees EOS.
    if info.get_event().type == Gst.EventType.EOS:
        GLib.idle_add(linger_then_finish)
    return Gst.PadProbeReturn.OK


def give_up():
    print(json.dumps({"error": "the sender did not finish within its time limit"}), flush=True)
    os._exit(1)


def finish():
    stats = {k: rtx.get_property(k) for k in ["num-rtx-requests", "num-rtx-packets"]}
    print(json.dumps(stats), flush=True)
    # Going to NULL sends rtpbin's BYE; its teardown has been seen to hang on a loaded machine,
    # so the process ends a few seconds later whatever it does.
    threading.Timer(5.0, lambda: os._exit(0)).start()
    pipeline.set_state(Gst.State.NULL)
    loop.quit()
    return False


rtp_sink.get_static_pad("sink").add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, on_rtp_sink_event)
# Whatever GStreamer does, the process ends: the length of the (48 kHz stereo 16-bit) file the
# tests give it, plus a generous margin.
watchdog = threading.Timer(os.path.getsize(wav) / (48000 * 2 * 2) + 30.0, give_up)
watchdog.daemon = True
watchdog.start()
bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
pipeline.set_state(Gst.State.PLAYING)
loop.run()
