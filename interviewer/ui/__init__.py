"""The Gradio app\x27s building blocks (layout, rendering, review tab)."""
