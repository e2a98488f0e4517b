"""`frames`: keyframes from a video or an image folder, chosen by sharpness and motion."""
