"""In a notebook, a kit error shows as its sentence, never as a traceback."""
import nbclient
import nbformat


def test_kit_error_in_a_notebook_cell_is_one_red_sentence():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import dockerlab\nlab = dockerlab.connect()"),
        nbformat.v4.new_code_cell("lab.run('nosuch/image')"),
        nbformat.v4.new_code_cell("print('the next cell still runs')"),
    ])
    nbclient.NotebookClient(notebook, allow_errors=True, kernel_name="python3").execute()
    failing, following = notebook.cells[1].outputs, notebook.cells[2].outputs
    assert [output["output_type"] for output in failing] == ["stream"]
    assert failing[0]["name"] == "stderr"
    assert failing[0]["text"] == ("\x1b[31m✗ There is no image 'nosuch/image' on this engine, and no registry is "
                                  "reachable to pull it; build it first (lab.build) or check the name with "
                                  "lab.images().\x1b[0m\n")
    assert following[0]["text"] == "the next cell still runs\n"
