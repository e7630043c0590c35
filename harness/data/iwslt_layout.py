"""Long-form test sets in the IWSLT organizers' layout: reader and writer.

The layout of the IWSLT offline dev/test archives (and of the IWSLT 2026 compression
track's test sets: ACL talks, TV series, call centre, YouTube, business news, accent):

    <folder>/FILE_ORDER              the talk order, one wav name per line (".wav" optional)
    <folder>/wavs/<talk>.wav         one unsegmented recording per talk
    <folder>/<prefix>.yaml           the reference segmentation, a YAML list of
                                     {duration, offset, speaker_id, wav}, grouped by wav
    <folder>/<prefix>.en-<l>.<l>.xml references in IWSLT/MTeval XML: <doc docid="<talk>">
                                     holding one <seg> per yaml segment of that talk, in order
    <folder>/<prefix>.en-<l>.en.xml  the English transcript (the source), likewise
    or plain text <prefix>.en-<l>.<l> (and .en): one line per yaml segment, in yaml order.

``load_organizers_layout`` reads such a folder into a harness.data.testsets.LongFormSet (the
same object the harness's own long-form sets load into), so segmentation, decoding,
resegmentation and scoring need nothing new. Its content hash is a sha256 over every
file it read (path and bytes), and is the set's version too: a changed copy of an
organizers' archive is a different test set. The XML is parsed only after any
``<!DOCTYPE`` or ``<!ENTITY`` is refused, so no entity is ever expanded; the YAML is
read with yaml.safe_load (harness.data.testsets.read_segments_yaml). Every problem is a
one-line TestSetError naming the file and the line, talk or segment.

``write_organizers_layout`` writes a LongFormSet in exactly this layout (XML
references), atomically; the mini track's long-form set is written so by make data,
so this reader is exercised on real generated data.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import yaml

from harness.data.audio import AudioError, audio_seconds
from harness.errors import one_line
from harness.files import file_sha256, listing_sha256
from harness.data.testsets import (
    _SAFE_ID, DEFAULT_LANGUAGES, LAYOUT_VERSION, SEGMENT_SLACK_SECONDS, LongFormSet, LongFormTalk, TestSetError,
    _error, _longform_hashes, _time, _write_folder_atomically, read_segments_yaml,
)

FILE_ORDER = "FILE_ORDER"
WAVS_DIR = "wavs"
_LANG = r"[a-z]{2,3}"
# Checked on the decoded text, before any parser sees it: a DTD is the only way to declare entities.
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def load_organizers_layout(folder: str | os.PathLike, languages: Sequence[str] | None = None, *,
                           name: str | None = None, track: str = "iwslt2026") -> LongFormSet:
    """Read a folder in the organizers' layout into a LongFormSet (talks in FILE_ORDER order).

    languages: the target languages to read (e.g. ("de",)); each must have references.
    None reads every direction the folder holds. "en" in ``languages`` makes the English
    source required; otherwise it is read when present. name defaults to the folder's name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise _error(folder, "test set folder not found")
    read: dict[str, str] = {}  # every file read, relative path -> sha256: the content hash covers them all

    order = _read_file_order(folder, read)
    yaml_path = _segment_file(folder)
    read[yaml_path.name] = file_sha256(yaml_path)
    prefix = yaml_path.name[:-len(".yaml")]
    by_wav: dict[str, list[tuple[float, float]]] = {wav: [] for wav in order}
    positions: dict[str, list[int]] = {wav: [] for wav in order}  # yaml indexes per talk (plain-text lines)
    entries = read_segments_yaml(yaml_path)
    for index, entry in enumerate(entries):
        if entry["wav"] not in by_wav:
            raise _error(f"{yaml_path} segment {index + 1}", f"wav {entry['wav']!r} is not in {FILE_ORDER}")
        by_wav[entry["wav"]].append((round(entry["offset"], 6), round(entry["duration"], 6)))
        positions[entry["wav"]].append(index)

    lengths: dict[str, float] = {}
    for line_no, wav in enumerate(order, 1):
        wav_path = folder / WAVS_DIR / wav
        if not wav_path.is_file():
            raise _error(f"{folder / FILE_ORDER} line {line_no}", f"{WAVS_DIR}/{wav} not found")
        if not by_wav[wav]:
            raise _error(f"{folder / FILE_ORDER} line {line_no}", f"{wav} has no segments in {yaml_path.name}")
        try:
            lengths[wav] = audio_seconds(wav_path)
        except AudioError as err:
            raise TestSetError(one_line(err)) from err
        read[f"{WAVS_DIR}/{wav}"] = file_sha256(wav_path)
        for number, (offset, duration) in enumerate(by_wav[wav], 1):
            if offset + duration > lengths[wav] + SEGMENT_SLACK_SECONDS:
                raise _error(f"{yaml_path} ({wav} segment {number})",
                             f"ends at {offset + duration:.3f} s, beyond the audio ({lengths[wav]:.3f} s)")

    files = _reference_files(folder, prefix)
    targets = _targets(folder, prefix, files, languages)
    texts: dict[str, dict[str, list[str]]] = {}  # lang -> talk id -> lines
    for lang in targets:
        texts[lang] = _read_references(folder, files[(lang, lang)], order, by_wav, positions, len(entries), read)
    source_files = [files[(lang, "en")] for lang in targets if (lang, "en") in files]
    if not source_files and languages is not None and "en" in languages:
        raise _error(folder, f"no English source ({prefix}.en-<lang>.en.xml or plain text) for "
                             f"{', '.join(targets)}")
    if source_files:
        texts["en"] = _read_references(folder, source_files[0], order, by_wav, positions, len(entries), read)
        for other in source_files[1:]:
            again = _read_references(folder, other, order, by_wav, positions, len(entries), read)
            if again != texts["en"]:
                talk = next(t for t in again if again[t] != texts["en"][t])
                raise _error(folder / other, f"talk {talk}: English source differs from {source_files[0]}")

    set_languages = (["en"] if "en" in texts else []) + list(targets)
    talks, records = [], []
    for wav in order:
        talk_id = wav[:-len(".wav")]
        talks.append(LongFormTalk(talk_id=talk_id, wav_path=folder / WAVS_DIR / wav, segments=tuple(by_wav[wav]),
                                  references={lang: tuple(texts[lang][talk_id]) for lang in targets},
                                  source_text=tuple(texts["en"][talk_id]) if "en" in texts else ()))
        records.append((talk_id, read[f"{WAVS_DIR}/{wav}"], by_wav[wav],
                        {lang: texts[lang][talk_id] for lang in set_languages}))
    content_hash = "sha256:" + listing_sha256(sorted(read.items()))
    hashes = _longform_hashes(records, set_languages)
    manifest = {"layout": LAYOUT_VERSION, "name": name or folder.name, "version": content_hash, "kind": "longform",
                "track": track, "domain": prefix, "languages": set_languages, "utterances": len(entries),
                "audio_seconds": round(sum(lengths.values()), 6), "content_hash": content_hash,
                "text_hash": hashes["text_hash"], "audio_hash": hashes["audio_hash"],
                "files": dict(sorted(read.items())), "talks": len(talks),
                "generator": {"source": "iwslt-layout", "folder": str(folder), "prefix": prefix}}
    return LongFormSet(name=manifest["name"], version=content_hash, content_hash=content_hash, manifest=manifest,
                       talks=tuple(talks), folder=folder)


def _read_text(path: Path, read: dict[str, str], folder: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise _error(path, "file not found") from err
    except OSError as err:
        raise _error(path, f"cannot read ({err.strerror or err})") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _error(path, f"not UTF-8 text ({err})") from err
    read[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return text


def _read_file_order(folder: Path, read: dict[str, str]) -> list[str]:
    path = folder / FILE_ORDER
    if not path.is_file():
        raise _error(path, "file not found (the organizers' talk order: one wav name per line)")
    order: list[str] = []
    for line_no, line in enumerate(_read_text(path, read, folder).splitlines(), 1):
        wav = line.strip()
        if not wav:
            continue
        wav = wav if wav.endswith(".wav") else f"{wav}.wav"
        if not _SAFE_ID.fullmatch(wav):
            raise _error(f"{path} line {line_no}", f"talk name must match {_SAFE_ID.pattern}, got {line.strip()!r}")
        if wav in order:
            raise _error(f"{path} line {line_no}", f"{wav} is listed twice")
        order.append(wav)
    if not order:
        raise _error(path, "lists no talks")
    return order


def _segment_file(folder: Path) -> Path:
    found = sorted(p for p in folder.iterdir() if p.name.endswith(".yaml") and p.is_file())
    if len(found) != 1:
        what = "no segment file (<prefix>.yaml)" if not found else \
            f"several segment files ({', '.join(p.name for p in found)}); one per folder"
        raise _error(folder, what)
    return found[0]


def _reference_files(folder: Path, prefix: str) -> dict[tuple[str, str], str]:
    """{(target, lang): file name} for every <prefix>.en-<target>.<lang>[.xml] (lang: the target or en)."""
    # A yaml named <prefix>.en-de.yaml shares its references' prefix without the direction.
    stem = re.sub(rf"\.en-{_LANG}$", "", prefix)
    pattern = re.compile(rf"{re.escape(stem)}\.en-({_LANG})\.({_LANG})(\.xml)?")
    files: dict[tuple[str, str], str] = {}
    for path in sorted(folder.iterdir()):
        match = pattern.fullmatch(path.name)
        if not match or not path.is_file() or match.group(2) not in ("en", match.group(1)):
            continue
        key = (match.group(1), match.group(2))
        if key in files:
            raise _error(folder, f"both {files[key]} and {path.name}: keep one form of the references")
        files[key] = path.name
    return files


def _targets(folder: Path, prefix: str, files: dict[tuple[str, str], str],
             languages: Sequence[str] | None) -> tuple[str, ...]:
    present = sorted({target for target, lang in files if lang == target},
                     key=lambda lang: (DEFAULT_LANGUAGES.index(lang) if lang in DEFAULT_LANGUAGES else 99, lang))
    if languages is None:
        if not present:
            raise _error(folder, f"no references ({prefix}.en-<lang>.<lang>.xml or plain text)")
        return tuple(present)
    targets = tuple(lang for lang in languages if lang != "en")
    for lang in targets:
        if lang not in present:
            raise _error(folder, f"no {lang} reference ({prefix}.en-{lang}.{lang}.xml or plain text "
                                 f"{prefix}.en-{lang}.{lang} not found)")
    if not targets:
        raise _error(folder, "languages names no target language")
    return targets


def _read_references(folder: Path, file_name: str, order: list[str], by_wav: dict, positions: dict,
                     segments: int, read: dict[str, str]) -> dict[str, list[str]]:
    """{talk id: lines}, one line per yaml segment of that talk, from XML or plain text."""
    path = folder / file_name
    text = _read_text(path, read, folder)
    if file_name.endswith(".xml"):
        docs = _parse_xml(path, text)
        result = {}
        for line_no, wav in enumerate(order, 1):
            talk_id = wav[:-len(".wav")]
            if talk_id not in docs:
                raise _error(path, f"no <doc docid={talk_id!r}> (talk on {FILE_ORDER} line {line_no})")
            lines, expected = docs.pop(talk_id), len(by_wav[wav])
            if len(lines) != expected:
                raise _error(path, f"doc {talk_id}: {len(lines)} segs but the yaml has {expected} segments")
            result[talk_id] = lines
        if docs:
            raise _error(path, f"doc {next(iter(docs))!r} is not a talk in {FILE_ORDER}")
        return result
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != segments:
        raise _error(path, f"has {len(lines)} lines but the yaml has {segments} segments")
    return {wav[:-len(".wav")]: [lines[i].rstrip("\r").strip() for i in positions[wav]] for wav in order}


def _parse_xml(path: Path, text: str) -> dict[str, list[str]]:
    """{docid: seg texts in document order} of an IWSLT/MTeval XML file (srcset or refset)."""
    found = _DTD.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise _error(f"{path} line {line}", f"<!{found.group(1).upper()} refused (no DTDs or entities in "
                                            f"reference files)")
    # The str was decoded as UTF-8 above; a declared encoding must not make expat re-decode it.
    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        line = err.position[0] if getattr(err, "position", None) else "?"
        raise _error(f"{path} line {line}", f"malformed XML ({err})") from err
    docs: dict[str, list[str]] = {}
    for doc in root.iter("doc"):
        docid = (doc.get("docid") or "").strip()
        docid = docid[:-len(".wav")] if docid.endswith(".wav") else docid
        if not docid:
            raise _error(path, f"a <doc> without docid (after {len(docs)} docs)")
        if docid in docs:
            raise _error(path, f"doc {docid!r} appears twice")
        lines, last = [], None
        for number, seg in enumerate(doc.iter("seg"), 1):
            seg_id = seg.get("id")
            if seg_id is not None and seg_id.strip().isdigit():
                if last is not None and int(seg_id) <= last:
                    raise _error(path, f"doc {docid} seg {number}: id {seg_id} after id {last} (segs must be "
                                       f"in yaml order)")
                last = int(seg_id)
            lines.append(one_line("".join(seg.itertext())))
        docs[docid] = lines
    if not docs:
        raise _error(path, "holds no <doc> elements")
    return docs


# ---------------------------------------------------------------- writing


def _yaml_scalar(value: str) -> str:
    # Plain when YAML reads it back as the same string, else a JSON string (valid YAML).
    import json

    return value if yaml.safe_load(value) == value and not any(c in value for c in ",{}[]:#") \
        else json.dumps(value)


def _xml_file(kind: str, set_id: str, lang: str, source: bool, talks: Sequence[LongFormTalk]) -> str:
    element = "srcset" if source else "refset"
    attrs = f'setid={quoteattr(set_id)} srclang="en"' + ("" if source else f' trglang={quoteattr(lang)} refid="ref"')
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', "<mteval>\n", f"<{element} {attrs}>\n"]
    for talk in talks:
        lines = talk.source_text if source else talk.references[lang]
        out.append(f"<doc docid={quoteattr(talk.talk_id)} genre={quoteattr(kind)}>\n")
        out.extend(f'<seg id="{number}">{escape(line)}</seg>\n' for number, line in enumerate(lines, 1))
        out.append("</doc>\n")
    out.append(f"</{element}>\n</mteval>\n")
    return "".join(out)


def write_organizers_layout(longform_set: LongFormSet, folder: str | os.PathLike,
                            prefix: str | None = None) -> Path:
    """Write ``longform_set`` in the organizers' layout (XML references) at ``folder``, atomically.

    The wavs are copied byte for byte; prefix defaults to the set's name. The same set gives
    byte-identical files. Returns the folder.
    """
    prefix = prefix or longform_set.name
    if not _SAFE_ID.fullmatch(prefix):
        raise _error(f"test set {longform_set.name!r}", f"prefix must match {_SAFE_ID.pattern}, got {prefix!r}")
    targets = [lang for lang in longform_set.languages if lang != "en"]
    has_source = "en" in longform_set.languages
    domain = str(longform_set.manifest.get("domain", "talks"))

    def fill(temp: Path) -> None:
        (temp / WAVS_DIR).mkdir()
        order, segments = [], []
        for talk in longform_set.talks:
            wav = f"{talk.talk_id}.wav"
            shutil.copyfile(talk.wav_path, temp / WAVS_DIR / wav)
            order.append(talk.talk_id + "\n")
            segments.extend(f"- {{duration: {_time(duration)}, offset: {_time(offset)}, "
                            f"speaker_id: {_yaml_scalar(talk.talk_id)}, wav: {_yaml_scalar(wav)}}}\n"
                            for offset, duration in talk.segments)
        (temp / FILE_ORDER).write_text("".join(order), encoding="utf-8")
        (temp / f"{prefix}.yaml").write_text("".join(segments), encoding="utf-8")
        for lang in targets:
            (temp / f"{prefix}.en-{lang}.{lang}.xml").write_text(
                _xml_file(domain, prefix, lang, False, longform_set.talks), encoding="utf-8")
            if has_source:
                (temp / f"{prefix}.en-{lang}.en.xml").write_text(
                    _xml_file(domain, prefix, lang, True, longform_set.talks), encoding="utf-8")

    _write_folder_atomically(folder, fill)
    return Path(folder)
