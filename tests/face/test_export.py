"""OBJ export round-trips what it wrote."""

from __future__ import annotations

import numpy as np
import pytest

from pain3d.face import export_obj
from pain3d.face.export import read_obj


def test_obj_round_trips_vertices_faces_and_uvs(meshes, tmp_path):
    mesh = meshes[0]
    tex = np.zeros((8, 8, 3), np.uint8)
    tex[..., 0] = 200
    path = export_obj(mesh, tmp_path / "head.obj", texture=tex)
    v, f, uv = read_obj(path)
    np.testing.assert_allclose(v, mesh.vertices, atol=1e-6)
    assert np.array_equal(f, mesh.faces)
    np.testing.assert_allclose(uv, mesh.uv, atol=1e-6)
    mtl = (tmp_path / "head.mtl").read_text()
    assert "map_Kd head.png" in mtl
    assert (tmp_path / "head.png").stat().st_size > 0
    assert "mtllib head.mtl" in path.read_text()[:300]


def test_obj_text_follows_each_meshes_own_faces_and_uvs(meshes, tmp_path):
    """The UV and face rows are formatted once per topology: a second topology gets its own."""
    from pain3d.face.mesh import Mesh

    a = meshes[0]
    b = Mesh(vertices=a.vertices, faces=np.ascontiguousarray(a.faces[::-1, ::-1]),
             uv=np.ascontiguousarray(a.uv * 0.5))
    for mesh in (a, b, a, Mesh(vertices=a.vertices, faces=a.faces)):
        v, f, uv = read_obj(export_obj(mesh, tmp_path / "m.obj"))
        assert np.array_equal(f, mesh.faces)
        if mesh.uv is None:
            assert uv is None and "//" in (tmp_path / "m.obj").read_text().split("\nf ")[1]
        else:
            np.testing.assert_allclose(uv, mesh.uv, atol=1e-6)


def test_export_rejects_a_bad_texture(meshes, tmp_path):
    with pytest.raises(ValueError, match="texture"):
        export_obj(meshes[0], tmp_path / "x.obj", texture=np.zeros((4, 4), np.float32))


def test_glb_round_trips_positions_and_embeds_the_texture(meshes, tmp_path):
    from pain3d.face.export import export_glb, read_glb_json

    mesh = meshes[0]
    tex = np.full((8, 8, 3), 90, np.uint8)
    doc, binary = read_glb_json(export_glb(mesh, tmp_path / "head.glb", texture=tex))
    prim = doc["meshes"][0]["primitives"][0]
    pos_acc = doc["accessors"][prim["attributes"]["POSITION"]]
    view = doc["bufferViews"][pos_acc["bufferView"]]
    pos = np.frombuffer(binary, "<f4", pos_acc["count"] * 3, view["byteOffset"]).reshape(-1, 3)
    np.testing.assert_array_equal(pos, mesh.vertices)
    idx_acc = doc["accessors"][prim["indices"]]
    assert idx_acc["count"] == mesh.faces.size
    img_view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    assert binary[img_view["byteOffset"] : img_view["byteOffset"] + 8] == b"\x89PNG\r\n\x1a\n"
