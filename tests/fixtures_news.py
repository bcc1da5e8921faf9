"""Small real files of every format, written with the libraries that read them back
(fpdf2, python-docx) or as the text a browser / feed exporter saves. Used by the format,
store, CLI and browser tests."""

from __future__ import annotations

import json
from pathlib import Path

ARTICLE = ("Le port de Ningbo a traité 35 millions de conteneurs en 2023, un record selon l'autorité portuaire. "
           "Les exportations de véhicules électriques expliquent l'essentiel de la hausse. "
           "Le trafic vers l'Europe a progressé de douze pour cent sur un an, malgré la mer Rouge.")

HTML = """<!DOCTYPE html>
<html lang="fr"><head>
<meta charset="utf-8">
<title>Ningbo bat son record de conteneurs | Le Courrier du Port</title>
<meta property="og:title" content="Ningbo bat son record de conteneurs">
<meta property="og:site_name" content="Le Courrier du Port">
<meta property="article:published_time" content="2024-01-15T08:30:00+01:00">
<link rel="canonical" href="https://courrier-du-port.example/2024/01/ningbo-record">
<script>window.tracking = 1;</script>
</head><body>
<nav><a href="/">Accueil</a> <a href="/eco">Économie</a> <a href="/monde">Monde</a></nav>
<article>
<h1>Ningbo bat son record de conteneurs</h1>
<p>{p1}</p>
<p>Les autorités locales prévoient d'ouvrir deux nouveaux quais en 2025 pour accueillir les plus grands
porte-conteneurs du monde, a indiqué le directeur du port lors d'une conférence de presse lundi.</p>
<p>Les armateurs saluent la fiabilité des opérations, même si la congestion reste forte en période de fêtes.</p>
</article>
<footer>© Le Courrier du Port — Mentions légales — Abonnez-vous à la lettre d'information</footer>
</body></html>
""".replace("{p1}", ARTICLE)

HTML_NO_BODY = """<!DOCTYPE html><html><head><title>Accueil</title></head>
<body><nav><a href="/a">A</a> <a href="/b">B</a></nav><footer>© Site</footer></body></html>"""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>Dépêches Asie</title><link>https://depeches-asie.example/</link><description>Fil</description>
<item>
  <title>Shenzhen ouvre un centre de calcul</title>
  <link>https://depeches-asie.example/shenzhen-calcul</link>
  <guid>dep-001</guid>
  <pubDate>Tue, 09 Apr 2024 10:00:00 GMT</pubDate>
  <description>&lt;p&gt;Shenzhen a inauguré mardi un centre de calcul d'une puissance de 5 000 petaflops, destiné aux
  entreprises d'intelligence artificielle de la ville.&lt;/p&gt;</description>
</item>
<item>
  <title>Canton accueille une foire du numérique</title>
  <link>https://depeches-asie.example/canton-foire</link>
  <guid>dep-002</guid>
  <pubDate>Mon, 20 May 2024 09:00:00 GMT</pubDate>
  <description>La foire du numérique de Canton a reçu 80 000 visiteurs en trois jours, selon les organisateurs.</description>
</item>
<item>
  <title>Brève sans texte</title>
  <guid>dep-003</guid>
  <pubDate>Tue, 21 May 2024 09:00:00 GMT</pubDate>
</item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Tech Wire</title><id>urn:tech-wire</id><updated>2024-03-02T12:00:00Z</updated>
  <entry>
    <title>Hangzhou chip plant starts production</title>
    <id>urn:tech-wire:1</id>
    <link href="https://tech-wire.example/hangzhou-chips"/>
    <published>2024-03-01T12:00:00Z</published><updated>2024-03-02T12:00:00Z</updated>
    <content type="html">&lt;p&gt;A new chip plant in Hangzhou started production on Friday with a capacity of
    40,000 wafers a month.&lt;/p&gt;</content>
  </entry>
</feed>
"""

JSONL_LINES = [
    {"id": "w1", "title": "Wuhan opens a data exchange", "date": "3 février 2024", "source": "Agence Centrale",
     "url": "https://agence.example/wuhan", "text": "Wuhan opened a data exchange on Saturday; 120 companies listed "
                                                   "data products on its first day."},
    {"title": "Chengdu expands its metro", "date": "2023-12-28", "content": "Chengdu opened three new metro lines, "
                                                                             "bringing its network to 600 kilometres."},
    "not an object",
    {"title": "no text here"},
]

TXT = ("Title: Xiamen lance une zone pilote\nDate : 12 avril 2024\nSource: Journal du Fujian\n\n"
       "Xiamen a lancé une zone pilote pour le commerce numérique transfrontalier. "
       "Quarante entreprises y sont déjà installées.\n")


def write_pdf(path: Path, pages: list[str], title: str = "", password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    if title:
        pdf.set_title(title)
    import datetime as dt

    pdf.set_creation_date(dt.datetime(2023, 6, 5, 10, 0, tzinfo=dt.timezone.utc))
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    if password:
        pdf.set_encryption(owner_password="owner-" + password, user_password=password)
    pdf.output(str(path))
    return path


def write_docx(path: Path, title: str, paragraphs: list[str]) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = title
    for p in paragraphs:
        document.add_paragraph(p)
    document.save(str(path))
    return path


def write_news_folder(folder: Path) -> Path:
    """One good file of every format, in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ningbo.html").write_text(HTML, encoding="utf-8")
    write_pdf(folder / "rapport.pdf", [
        "Rapport annuel de la zone franche de Hainan\nLa zone franche de Hainan a attire 1 200 entreprises "
        "etrangeres en 2022, soit deux fois plus qu'en 2021.",
        "Deuxieme page. Les recettes douanieres ont atteint 18 milliards de yuans, un niveau jamais vu.",
    ], title="Rapport annuel de la zone franche de Hainan")
    write_docx(folder / "note.docx", "Suzhou et la robotique", [
        "Date : 3 mars 2023",
        "Suzhou et la robotique",
        "Suzhou compte désormais 300 fabricants de robots industriels, selon le bureau municipal de l'industrie.",
    ])
    (folder / "depeches.rss").write_text(RSS, encoding="utf-8")
    (folder / "wire.atom").write_text(ATOM, encoding="utf-8")
    (folder / "dump.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in JSONL_LINES) + "\n",
                                       encoding="utf-8")
    (folder / "xiamen.txt").write_text(TXT, encoding="utf-8")
    return folder
