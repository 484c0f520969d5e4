#!/usr/bin/env python3
"""Regenerates the binary files of Quire's sample workspace (committed beside this script):

  contract.pdf      a short services agreement, written for Quire, as a plain PDF 1.4 with a text
                    layer (Helvetica, one paragraph per clause), byte-for-byte reproducible
  standup.ogg       a short stand-up meeting read by espeak-ng (voice en-us), Opus in Ogg, mono

Needs python3, espeak-ng and ffmpeg (for the recording). Run from anywhere:
  python3 resources/samples/make_samples.py
"""
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

CONTRACT_TITLE = "Software Maintenance Agreement"

# Pages of clauses; each clause is one paragraph (one segment after extraction).
CONTRACT = [
    [
        "SOFTWARE MAINTENANCE AGREEMENT",
        "This Software Maintenance Agreement is made on 3 February 2025 between Harbour Lane Software Ltd, "
        "a company registered in Ireland (the Supplier), and Tidewater Logistics BV, a company registered "
        "in the Netherlands (the Customer).",
        "1. Services. The Supplier shall maintain the Customer's route planning software, correct reported "
        "defects and deliver one minor release every quarter.",
        "2. Term. This Agreement starts on 1 March 2025 and runs for an initial term of twenty-four (24) "
        "months. It renews for further periods of twelve (12) months unless terminated under clause 9.",
        "3. Fees. The Customer shall pay a fixed fee of EUR 4,800 per month, invoiced monthly in advance. "
        "Invoices are payable within thirty (30) days of the invoice date.",
        "4. Response times. The Supplier shall respond to a critical defect within four (4) business hours "
        "and to any other defect within two (2) business days.",
    ],
    [
        "5. Service credits. If the Supplier misses a response time for a critical defect, the Customer "
        "receives a service credit of five percent (5%) of the monthly fee for each missed response, up to "
        "a total of twenty-five percent (25%) in any month.",
        "6. Confidentiality. Each party shall keep the other party's confidential information secret during "
        "this Agreement and for three (3) years after it ends.",
        "7. Data protection. The Supplier processes personal data only on the Customer's written "
        "instructions and shall notify the Customer of a personal data breach within forty-eight (48) hours.",
        "8. Liability. The total liability of either party under this Agreement shall not exceed the fees "
        "paid by the Customer in the twelve (12) months before the claim arose.",
        "9. Termination. Either party may terminate this Agreement by giving ninety (90) days written notice "
        "to the other party. Either party may terminate at once if the other party commits a material breach "
        "and does not remedy it within thirty (30) days of being asked to.",
        "10. Governing law. This Agreement is governed by the laws of Ireland, and the courts of Dublin have "
        "exclusive jurisdiction.",
    ],
]

MEETING = (
    "Good morning everyone, this is the weekly stand up for the route planner. "
    "First, the release. Version two point four will ship on Thursday the twelfth of June. "
    "Second, the database migration is finished and all tests are green. "
    "Third, Maria will update the installer next week, and Tom will review the new map tiles. "
    "Any blockers? No blockers today. Thank you, see you next week."
)


def pdf_escape(s):
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path, pages, title):
    """A PDF 1.4 file: objects 1 catalog, 2 page tree, 3 font, then a page and its content per page."""
    objects = ["", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    page_ids = []
    size, lead = 11.0, 13.75
    for clauses in pages:
        page_id = len(objects) + 1
        page_ids.append(page_id)
        objects.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       "/Contents %d 0 R >>" % (page_id + 1))
        top = 72.0
        lines = []
        for i, clause in enumerate(clauses):
            fsize = 13.0 if i == 0 and clause.isupper() else size
            for line in textwrap.wrap(clause, 88, break_on_hyphens=False):
                lines.append("BT /F1 %.1f Tf 72.00 %.2f Td (%s) Tj ET" % (fsize, 792 - top, pdf_escape(line)))
                top += lead
            top += lead  # a blank line between clauses
        content = "\n".join(lines) + "\n"
        objects.append("<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects[0] = "<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % i for i in page_ids), len(page_ids))
    objects.append("<< /Title (%s) >>" % pdf_escape(title))
    info_id = len(objects)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i + 1, obj)).encode("latin-1")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objects) + 1, info_id, xref)).encode()
    with open(path, "wb") as f:
        f.write(out)


def write_meeting(path):
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "standup.wav")
        # SSML breaks between sentences give the voice activity detector clear pauses.
        ssml = "<speak>" + "".join(s.strip() + '. <break time="900ms"/> ' for s in MEETING.split(". ") if s) + "</speak>"
        subprocess.run(["espeak-ng", "-m", "-v", "en-us", "-s", "140", "-w", wav, ssml], check=True)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", wav, "-ac", "1", "-ar", "16000",
                        "-c:a", "libopus", "-b:a", "24k", "-map_metadata", "-1", "-fflags", "+bitexact",
                        "-flags:a", "+bitexact", path], check=True)


def main():
    write_pdf(os.path.join(HERE, "contract.pdf"), CONTRACT, CONTRACT_TITLE)
    if "--no-audio" not in sys.argv:
        write_meeting(os.path.join(HERE, "standup.ogg"))
    print("wrote contract.pdf" + ("" if "--no-audio" in sys.argv else " and standup.ogg") + " in " + HERE)


if __name__ == "__main__":
    main()
