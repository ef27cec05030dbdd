"""The Gradio app: layout (app), interview handlers (interview), speed tricks (streaming),
the review tab (review) and escaped HTML (render)."""
